package io.lowbit.quant.modulora;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.nn.QuantLinear;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Turns a model into a ModuLoRA model: every {@link Linear} whose path ends with a target name is quantized
 * by a fresh quantizer from the given supplier and replaced by a {@link ModuLoraLinear}. The quantizer is
 * the only method-specific argument — RTN, NF4 (QLoRA) and GPTQ differ in that one argument:
 * <pre>{@code
 * ModuLora.apply(model, () -> new AffineQuantizer(AffineSpec.perGroup(3, false, 64)), cfg, rng, null);  // RTN
 * ModuLora.apply(model, Nf4Quantizer::new, cfg, rng, null);                                            // QLoRA
 * ModuLora.apply(model, () -> new Gptq(Gptq.Config.defaults(3)), cfg, rng, calibration);             // GPTQ
 * }</pre>
 * A calibrated quantizer (GPTQ) is fed sequentially: the targets are handled in module order; before
 * quantizing one, it is wrapped in a pass-through layer that hands its inputs to the quantizer and the
 * {@code calibration} callback runs the model (earlier targets already quantized) under no-grad.
 */
public final class ModuLora {
    private ModuLora() {}

    /**
     * Replaces the matching linears of {@code root} in place; returns the replaced paths. The old linears
     * are closed. Their fields in the parents must be typed {@link Layer} (or {@link Module}) and non-final.
     *
     * @param calibration runs the model on calibration inputs; required iff the quantizer needs calibration
     */
    public static List<String> apply(Module root, Supplier<Quantizer> quantizer, LoraConfig cfg, Rng rng, Runnable calibration) {
        boolean calibrate = quantizer.get().needsCalibration();
        if (calibrate && calibration == null)
            throw new IllegalArgumentException("quantizer '" + quantizer.get().name() + "' needs calibration inputs: pass a calibration callback");
        List<String> paths = targets(root, cfg);
        for (String path : paths) {
            Linear lin = (Linear) root.get(path);
            if (lin.bias() != null) throw new IllegalArgumentException(path + ": linears with a bias are not supported by ModuLoRA here");
            Quantizer q = quantizer.get();
            if (calibrate) {
                root.replace(path, new Observer(lin, q));
                try (GradMode.Scope _ = GradMode.noGrad()) {
                    calibration.run();
                } finally {
                    root.replace(path, lin);
                }
            }
            QuantizedTensor packed = q.quantize(lin.weight().data());
            root.replace(path, new ModuLoraLinear(new QuantLinear(packed), cfg, rng.fork(path)));
            lin.close();
        }
        return paths;
    }

    /**
     * Plain LoRA over the full-precision base: each matching {@link Linear} (no bias) becomes the base of a
     * {@link ModuLoraLinear} with its weight frozen — the same adapters as {@link #apply}, no quantization.
     */
    public static List<String> applyLora(Module root, LoraConfig cfg, Rng rng) {
        List<String> paths = targets(root, cfg);
        for (String path : paths) {
            Linear lin = (Linear) root.get(path);
            if (lin.bias() != null) throw new IllegalArgumentException(path + ": linears with a bias are not supported by LoRA here");
            root.replace(path, new ModuLoraLinear(lin, cfg, rng.fork(path)));
        }
        return paths;
    }

    /** Dotted paths of the {@link Linear}s matching the targets, in module order; an error when there are none. */
    private static List<String> targets(Module root, LoraConfig cfg) {
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, Module> e : root.namedModules().entrySet())
            if (e.getValue() instanceof Linear && !e.getKey().isEmpty() && cfg.matches(e.getKey())) paths.add(e.getKey());
        if (paths.isEmpty()) throw new IllegalArgumentException("no Linear in the model matches the LoRA targets " + cfg.targets());
        return paths;
    }

    /** QLoRA: NF4 with block 64 and double quantization as the base quantizer. */
    public static List<String> applyQlora(Module root, LoraConfig cfg, Rng rng) {
        return apply(root, Nf4Quantizer::new, cfg, rng, null);
    }

    /** A pass-through wrapper that feeds its inputs to a calibrating quantizer. */
    private static final class Observer extends Layer {
        private final Linear inner;
        private final Quantizer quantizer;

        Observer(Linear inner, Quantizer quantizer) {
            this.inner = inner;
            this.quantizer = quantizer;
        }

        @Override
        public Var forward(Var x) {
            quantizer.observe(x.data());
            return inner.forward(x);
        }

        @Override
        public void close() {
            // the wrapped linear is owned by the model, not by this wrapper
        }
    }
}
