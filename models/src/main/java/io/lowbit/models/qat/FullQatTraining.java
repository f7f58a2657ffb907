package io.lowbit.models.qat;

import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.methods.AdaptedLayers;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.fakequant.LsqLinear;
import io.lowbit.quant.lrqat.LpRangeSearch;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Full QAT with LSQ (specs/baselines.md "Full QAT with LSQ") as a {@link TrainingMethod}: every projection
 * becomes an {@link LsqLinear} (ŵ = s·⌊clip(w/s, Q_N, Q_P)⌉, straight-through rounding, step gradient scaled
 * by 1/√(N·Q_P)) on the same symmetric grid as LR-QAT, and all its weights and steps train; embeddings, norms
 * and head stay frozen, as in LR-QAT, so the two differ only in what trains inside the linears. The initial
 * steps come from the same L_p (p = 4) range search as LR-QAT's s0. AdamW β = (0.9, 0.95), weight decay 0,
 * learning rate {@code lrWeights} for W and {@code lrScale} for s.
 */
public final class FullQatTraining implements TrainingMethod {
    private final AffineSpec spec;
    private final double rangeP, lrWeights, lrScale;
    private final Map<String, LsqLinear> layers = new LinkedHashMap<>();

    /**
     * @param bits      weight bits (signed grid)
     * @param groupSize input columns per step, ≤ 0 for one step per output channel
     * @param rangeP    exponent of the L_p range search for the initial steps (0 = min-max)
     */
    public FullQatTraining(int bits, int groupSize, double rangeP, double lrWeights, double lrScale) {
        if (!(lrWeights > 0) || !(lrScale >= 0)) throw new IllegalArgumentException("full-QAT learning rates must be > 0 (W) and >= 0 (s), got " + lrWeights + ", " + lrScale);
        this.spec = groupSize > 0 ? AffineSpec.perGroup(bits, true, groupSize) : AffineSpec.perChannel(bits, true);
        this.rangeP = rangeP;
        this.lrWeights = lrWeights;
        this.lrScale = lrScale;
    }

    @Override
    public String name() {
        return "full-qat";
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException("full-qat: prepare called twice");
        for (var e : AdaptedLayers.find(model).entrySet()) {
            Linear lin = e.getValue();
            float[] s0 = LpRangeSearch.scales(lin.weight().data(), spec.bits(), spec.groupCols(lin.weight().size(1)), rangeP);
            LsqLinear l = LsqLinear.from(lin, spec, s0);
            model.replace(e.getKey(), l).close();
            layers.put(e.getKey(), l);
        }
    }

    @Override
    public List<Parameter> trainable(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (LsqLinear l : layers.values()) out.addAll(List.of(l.weight(), l.scale()));
        return out;
    }

    @Override
    public Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        List<Parameter> w = new ArrayList<>(), s = new ArrayList<>();
        for (LsqLinear l : layers.values()) {
            w.add(l.weight());
            s.add(l.scale());
        }
        return new AdamW(List.of(new ParamGroup(w, lrWeights, 0), new ParamGroup(s, lrScale, 0)), 0.9, 0.95, 1e-8);
    }

    /** The LSQ layers by path. */
    public Map<String, LsqLinear> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** Every layer as integers clamp(round(W/s)) with scale s, by path; the caller closes them. */
    public Map<String, QuantizedTensor> quantized() {
        Map<String, QuantizedTensor> out = new LinkedHashMap<>();
        try {
            for (var e : layers.entrySet()) out.put(e.getKey(), e.getValue().merge());
            return out;
        } catch (RuntimeException ex) {
            out.values().forEach(QuantizedTensor::close);
            throw ex;
        }
    }
}
