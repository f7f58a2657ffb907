package io.lowbit.models.train.methods;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.lora.LoRALinear;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * LoRA and ReLoRA (specs/baselines.md). Every q/k/v/o/gate/up/down linear becomes a {@link LoRALinear}
 * (frozen W₀ + scale·B·A, scale = {@link MethodOptions#scale()} taken as α/r); embeddings, LM head and
 * norms train normally.
 *
 * <p>ReLoRA (Lialin et al. 2023) additionally, at every step t = kτ (k ≥ 1), before that step's update:
 * <ul>
 *   <li>merges every adapter into its W₀ and re-initializes it (A Kaiming, B = 0 — W_eff is unchanged);</li>
 *   <li>partially resets the adapters' optimizer state: in each floating-point Adam moment the
 *       {@value #PRUNE_FRACTION}·100 % smallest-magnitude entries are set to zero (magnitude pruning).
 *       8-bit moments cannot be pruned entry by entry; their block absmax values are zeroed, which resets
 *       them completely;</li>
 *   <li>applies a jagged learning rate: the run's lr is multiplied by min(1, (t − t_reset)/w), i.e. it is 0
 *       at the reset step (Adam's moments refill from fresh gradients without moving the weights) and
 *       re-warms linearly over w = max(2, τ/10) steps (the ReLoRA paper re-warms over a few tens of steps per
 *       cycle; the τ/10 length is our choice, stated here).</li>
 * </ul>
 * The step itself is a normal optimizer step ({@link #beforeStep} returns false).
 */
public final class LoRATraining implements TrainingMethod {
    /** Fraction of each adapter Adam moment zeroed at a ReLoRA reset (the paper's 99 %). */
    public static final double PRUNE_FRACTION = 0.99;

    private final MethodOptions options;
    private final boolean relora;
    private final Map<String, LoRALinear> layers = new LinkedHashMap<>();
    private Optimizer optimizer;
    private Rng rng;
    private int lastReset = -1, resets;
    private double[] lastBaseLr, lastSetLr;

    /** LoRA, or ReLoRA when {@code relora}. */
    public LoRATraining(MethodOptions options, boolean relora) {
        this.options = options;
        this.relora = relora;
    }

    @Override
    public String name() {
        return relora ? "relora" : "lora";
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException(name() + ": prepare called twice");
        this.rng = rng;
        for (var e : AdaptedLayers.find(model).entrySet()) {
            Linear lin = e.getValue();
            LoRALinear l = new LoRALinear(lin.weight().data(), lin.bias() == null ? null : lin.bias().data(), options.rank(), options.scale(), rng);
            model.replace(e.getKey(), l).close();
            layers.put(e.getKey(), l);
        }
    }

    /** Folds each adapter into a plain Linear with its effective weight W_eff (for a Hugging Face export). */
    @Override
    public void mergeForExport(Module model) {
        AdaptedLayers.foldIntoLinears(model, layers, LoRALinear::effectiveWeight, LoRALinear::bias);
        layers.clear();
    }

    /** The LoRA layers by path. */
    public Map<String, LoRALinear> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** Number of ReLoRA resets performed. */
    public int resets() {
        return resets;
    }

    @Override
    public List<Parameter> trainable(Module model) {
        return AdaptedLayers.requiringGrad(model);
    }

    @Override
    public Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        optimizer = defaultFactory.apply(params);
        return optimizer;
    }

    @Override
    public boolean beforeStep(int step, StepRunner runner) {
        if (!relora) return false;
        if (step > 0 && step % options.tau() == 0) {
            for (LoRALinear l : layers.values()) l.mergeAndReinit(rng);
            if (optimizer != null) for (LoRALinear l : layers.values()) {
                prune(optimizer, l.loraA());
                prune(optimizer, l.loraB());
            }
            lastReset = step;
            resets++;
        }
        if (optimizer != null) jaggedLr(step);
        return false;
    }

    private void jaggedLr(int step) {
        List<ParamGroup> groups = optimizer.paramGroups();
        if (lastBaseLr == null) {
            lastBaseLr = new double[groups.size()];
            lastSetLr = new double[groups.size()];
            Arrays.fill(lastSetLr, Double.NaN);
        }
        int warm = Math.max(2, options.tau() / 10);
        double factor = lastReset < 0 ? 1 : Math.min(1.0, (double) (step - lastReset) / warm);
        for (int i = 0; i < groups.size(); i++) {
            ParamGroup g = groups.get(i);
            // the run's schedule (if any) has set lr since our last change; otherwise undo our own factor
            double base = g.lr() == lastSetLr[i] ? lastBaseLr[i] : g.lr();
            lastBaseLr[i] = base;
            lastSetLr[i] = base * factor;
            g.setLr(lastSetLr[i]);
        }
    }

    /** ReLoRA's partial reset: zero the {@link #PRUNE_FRACTION} smallest-magnitude entries of each moment. */
    static void prune(Optimizer opt, Var p) {
        Optimizer.State s = opt.state(p);
        for (var e : s.tensors().entrySet()) {
            Tensor t = e.getValue();
            String name = e.getKey();
            if (name.endsWith("_absmax")) {
                t.fill(0); // 8-bit moments: zero scale ⇒ every entry of the block decodes to 0
            } else if (t.dtype().floating && (name.equals("exp_avg") || name.equals("exp_avg_sq"))) {
                pruneByMagnitude(t, PRUNE_FRACTION);
            }
        }
    }

    /** Sets the {@code fraction} smallest-|x| entries of {@code t} to zero (ties at the threshold are zeroed too). */
    static void pruneByMagnitude(Tensor t, double fraction) {
        int n = Math.toIntExact(t.numel());
        int zeroCount = (int) Math.floor(fraction * n);
        if (zeroCount <= 0) return;
        double[] v = t.toDoubleArray();
        double[] mag = new double[n];
        for (int i = 0; i < n; i++) mag[i] = Math.abs(v[i]);
        double[] sorted = mag.clone();
        Arrays.sort(sorted);
        double threshold = sorted[Math.min(n - 1, zeroCount - 1)];
        for (int i = 0; i < n; i++) if (mag[i] <= threshold) t.setDouble(i, 0);
    }

    /** The adapted weights W₀ of the LoRA layers (for memory reports). */
    public List<Parameter> frozenWeights() {
        List<Parameter> out = new ArrayList<>();
        for (LoRALinear l : layers.values()) out.add(l.weight());
        return out;
    }
}
