package io.lowbit.quant.lrqat;

import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Model-level LR-QAT (spec "Forward": "Trainable: A, B, s. Frozen: W0 (as Φ0), embeddings, norms, head"):
 * swap the chosen {@link Linear} layers of any module tree for {@link LrQatLinear}, freeze everything
 * else, build the spec's optimizer, and merge back to integers after training.
 */
public final class LrQat {
    private LrQat() {}

    /**
     * Replaces every {@link Linear} whose dotted path satisfies {@code include} (e.g. everything but the
     * head) by an {@link LrQatLinear} (closing the old layer) and turns off gradients for every other
     * parameter of {@code model}. Returns the new layers by path, in tree order.
     */
    public static Map<String, LrQatLinear> apply(Module model, Predicate<String> include, LrQatConfig cfg, Rng rng) {
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, Module> e : model.namedModules().entrySet())
            if (e.getValue() instanceof Linear && !e.getKey().isEmpty() && include.test(e.getKey())) paths.add(e.getKey());
        if (paths.isEmpty()) throw new IllegalArgumentException("no nn.Linear selected for LR-QAT in " + model.getClass().getSimpleName());
        Map<String, LrQatLinear> out = new LinkedHashMap<>();
        for (String p : paths) {
            Linear old = (Linear) model.get(p);
            LrQatLinear l = LrQatLinear.from(old, cfg, rng);
            model.replace(p, l);
            old.close();
            out.put(p, l);
        }
        for (Parameter p : model.parameters()) p.requiresGrad(false);
        for (LrQatLinear l : out.values())
            for (Parameter p : List.of(l.loraA(), l.loraB(), l.scale())) p.requiresGrad(true);
        return out;
    }

    /** The spec's optimizer: AdamW, β = (0.9, 0.95), weight decay 0, lr {@code lrAB} for A and B and {@code lrScale} for s. */
    public static AdamW optimizer(Collection<LrQatLinear> layers, double lrAB, double lrScale) {
        List<Parameter> ab = new ArrayList<>(), s = new ArrayList<>();
        for (LrQatLinear l : layers) {
            ab.add(l.loraA());
            ab.add(l.loraB());
            s.add(l.scale());
        }
        return new AdamW(List.of(new ParamGroup(ab, lrAB, 0), new ParamGroup(s, lrScale, 0)), 0.9, 0.95, 1e-8);
    }

    /** Merges every layer to its integer weight (spec: W_int = clamp(round(Φ0 + (α/r)AB)), scale s); the caller closes the tensors. */
    public static Map<String, AffineQuantizedTensor> merge(Map<String, LrQatLinear> layers) {
        Map<String, AffineQuantizedTensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, LrQatLinear> e : layers.entrySet()) out.put(e.getKey(), e.getValue().merge());
            return out;
        } catch (RuntimeException ex) {
            out.values().forEach(AffineQuantizedTensor::close);
            throw ex;
        }
    }
}
