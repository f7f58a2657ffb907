package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * EfficientQAT phase 1, Block-AP (spec "Phase 1"), for any block: a {@link Layer} (a transformer block,
 * an MLP) whose {@link Linear} submodules are quantized.
 * <ol>
 *   <li>{@link #quantize}: every {@link Linear} becomes an {@link EfficientQatLinear} (RTN min-max init);</li>
 *   <li>{@link #train}: linear weights and {@link RMSNorm} weights (lr_w) and s, z (lr_q) train with AdamW
 *       (wd 0, cosine to lr·minLrRatio) on loss = MSE(FP_block(x_fp), Q_block(x_q));</li>
 *   <li>{@link #freeze}: each layer becomes integers (q, s, z) in a {@link ScaleOnlyQuantLinear}.</li>
 * </ol>
 * {@link #run} does this for a list of blocks in order, feeding each block the outputs of the already
 * quantized blocks (x_q) and the full-precision outputs (x_fp) as targets, so only one block's training
 * state (gradients, AdamW moments, activations) is alive at a time.
 */
public final class BlockAp {
    private BlockAp() {}

    /** What training one block did: output MSE at the RTN start and after training, and every step's loss. */
    public record Report(double initialMse, double finalMse, double[] stepLosses) {}

    /** Called after each block of {@link #run}: its index and report. */
    @FunctionalInterface
    public interface Listener {
        /** Block {@code index} is trained and frozen. */
        void blockDone(int index, Report report);
    }

    /** Replaces every {@link Linear} in {@code block} by an {@link EfficientQatLinear} (closing the old one); returns their paths. */
    public static List<String> quantize(Module block, int bits, int groupSize) {
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, Module> e : block.namedModules().entrySet())
            if (e.getValue() instanceof Linear) paths.add(e.getKey());
        if (paths.isEmpty()) throw new IllegalArgumentException("block " + block.getClass().getSimpleName() + " has no nn.Linear to quantize");
        for (String p : paths) {
            if (p.isEmpty()) throw new IllegalArgumentException("the block itself is a Linear; wrap it in a container module");
            Linear old = (Linear) block.get(p);
            block.replace(p, EfficientQatLinear.from(old, bits, groupSize));
            old.close();
        }
        return paths;
    }

    /** The {@link EfficientQatLinear} layers of {@code block}, in tree order. */
    public static List<EfficientQatLinear> quantLayers(Module block) {
        List<EfficientQatLinear> out = new ArrayList<>();
        for (Module m : block.namedModules().values()) if (m instanceof EfficientQatLinear q) out.add(q);
        return out;
    }

    /**
     * Trains a block already passed through {@link #quantize} on pairs (x_q, target): per epoch one step per
     * sample, in order. The caller keeps the tensors.
     */
    public static Report train(Layer block, List<Tensor> inputs, List<Tensor> targets, BlockApConfig cfg) {
        List<Var> norms = new ArrayList<>();
        for (Module m : block.namedModules().values()) if (m instanceof RMSNorm n && n.weight().requiresGrad()) norms.add(n.weight());
        return train(block, inputs, targets, cfg, norms);
    }

    /**
     * {@link #train(Layer, List, List, BlockApConfig)} with the norm weights given explicitly (for blocks whose
     * norms are not {@link RMSNorm} modules); they train with the linear weights' learning rate.
     */
    public static Report train(Layer block, List<Tensor> inputs, List<Tensor> targets, BlockApConfig cfg, List<? extends Var> normWeights) {
        if (inputs.size() != targets.size() || inputs.isEmpty())
            throw new IllegalArgumentException("Block-AP needs as many targets as inputs (and at least one), got " + inputs.size() + " and " + targets.size());
        List<EfficientQatLinear> layers = quantLayers(block);
        if (layers.isEmpty()) throw new IllegalArgumentException("block has no EfficientQatLinear layers; call BlockAp.quantize first");
        List<Var> weights = new ArrayList<>(), quant = new ArrayList<>();
        for (EfficientQatLinear l : layers) {
            weights.add(l.weight());
            quant.add(l.scale());
            quant.add(l.zero());
        }
        weights.addAll(normWeights);
        long total = (long) cfg.epochs() * inputs.size();
        double initial = mse(block, inputs, targets);
        double[] losses = new double[(int) total];
        try (AdamW opt = new AdamW(List.of(new ParamGroup(weights, cfg.lrWeights(), 0), new ParamGroup(quant, cfg.lrQuant(), 0)), 0.9, 0.999, 1e-8)) {
            LrScheduler schedule = new LrScheduler(Schedule.warmupCosine(0, total, cfg.minLrRatio()), opt);
            int k = 0;
            for (int epoch = 0; epoch < cfg.epochs(); epoch++)
                for (int i = 0; i < inputs.size(); i++) {
                    try (MemoryScope _ = MemoryScope.open()) {
                        Var loss = F.mseLoss(block.forward(new Var(inputs.get(i))), new Var(targets.get(i)));
                        losses[k++] = loss.item();
                        loss.backwardAndRelease();
                        opt.step();
                        block.zeroGrad();
                        for (EfficientQatLinear l : layers) l.project();
                        schedule.step();
                    }
                }
        } finally {
            block.zeroGrad();
        }
        return new Report(initial, mse(block, inputs, targets), losses);
    }

    /** Replaces every {@link EfficientQatLinear} by a {@link ScaleOnlyQuantLinear} over its frozen integers (closing the old layer). */
    public static void freeze(Module block) {
        for (Map.Entry<String, Module> e : block.namedModules().entrySet()) {
            if (!(e.getValue() instanceof EfficientQatLinear old)) continue;
            block.replace(e.getKey(), new ScaleOnlyQuantLinear(old.freeze(), old.bias() == null ? null : old.bias().data()));
            old.close();
        }
    }

    /** Mean over samples of MSE(block(x), target), without gradients. */
    public static double mse(Layer block, List<Tensor> inputs, List<Tensor> targets) {
        double sum = 0;
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (int i = 0; i < inputs.size(); i++)
                try (MemoryScope _ = MemoryScope.open()) {
                    sum += F.mseLoss(block.forward(new Var(inputs.get(i))), new Var(targets.get(i))).item();
                }
        }
        return sum / inputs.size();
    }

    /** block(x) for every x, without gradients; the caller owns (closes) the new tensors. */
    public static List<Tensor> outputs(Layer block, List<Tensor> inputs) {
        List<Tensor> out = new ArrayList<>();
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (Tensor x : inputs)
                try (MemoryScope s = MemoryScope.open()) {
                    Var y = block.forward(new Var(x));
                    if (!Arrays.equals(y.shape(), x.shape()))
                        throw new IllegalArgumentException("a block must map [..., d] to the same shape to be chained, got "
                                + Arrays.toString(x.shape()) + " -> " + Arrays.toString(y.shape()));
                    out.add(MemoryScope.escape(y.data().copy()));
                }
        }
        return out;
    }

    /**
     * Block-AP over a sequence of blocks (spec "For each transformer block in order"): block i is quantized
     * and trained on x_q (outputs of the already quantized blocks 0..i−1 on the calibration inputs) against
     * its full-precision output on x_fp, frozen, and its quantized outputs become the next x_q. The blocks
     * are modified in place; {@code calibration} is kept by the caller. {@code listener} may be null.
     */
    public static List<Report> run(List<? extends Layer> blocks, List<Tensor> calibration, BlockApConfig cfg, Listener listener) {
        List<Report> reports = new ArrayList<>();
        List<Tensor> xfp = calibration, xq = calibration;
        boolean owned = false;
        try {
            for (int b = 0; b < blocks.size(); b++) {
                Layer block = blocks.get(b);
                List<Tensor> targets = outputs(block, xfp);                  // FP_block(x_fp)
                if (owned) closeAll(xfp);
                xfp = targets;
                quantize(block, cfg.bits(), cfg.groupSize());
                Report r = train(block, xq, targets, cfg);
                freeze(block);
                List<Tensor> next = outputs(block, xq);                      // recompute the quantized-input cache
                if (owned) closeAll(xq);
                xq = next;
                owned = true;
                reports.add(r);
                if (listener != null) listener.blockDone(b, r);
            }
        } finally {
            if (owned) {
                closeAll(xq);
                closeAll(xfp);
            }
        }
        return reports;
    }

    private static void closeAll(List<Tensor> ts) {
        for (Tensor t : ts) t.close();
    }
}
