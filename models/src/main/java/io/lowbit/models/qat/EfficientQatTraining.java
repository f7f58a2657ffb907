package io.lowbit.models.qat;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.efficientqat.BlockAp;
import io.lowbit.quant.efficientqat.BlockApConfig;
import io.lowbit.quant.efficientqat.EfficientQatLinear;
import io.lowbit.quant.efficientqat.ScaleOnlyQuantLinear;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * EfficientQAT (specs/efficientqat.md) on a pretrained {@link LlamaForCausalLM}.
 * <ol>
 *   <li>Phase 1, {@link #blockAp}: the decoder blocks in order go through {@link BlockAp#run}: each block's
 *       linears become asymmetric group fake-quant layers; linear weights, RMSNorm weights, s and z train on
 *       MSE(FP_block(x_fp), Q_block(x_q)) with x_q from the already quantized blocks; the block is then frozen
 *       as integers (q, s, z). Calibration inputs are the token embeddings of training windows.</li>
 *   <li>Phase 2, E2E-QP: this class as a {@link TrainingMethod} of the shared trainer: with q and z frozen,
 *       only the step sizes s of every {@link ScaleOnlyQuantLinear} train end to end on the language-modeling
 *       loss (AdamW β = (0.9, 0.999), weight decay 0; the trainer supplies warmup + cosine and clipping).
 *       Embeddings, norms and head stay frozen.</li>
 * </ol>
 * Deviation: the spec clamps s into [1e-4, 1e4] after each step; through the shared trainer the clamp is
 * applied before each step ({@link #beforeStep}) and before export, which is the same for every step but the
 * last (whose result is clamped at export).
 */
public final class EfficientQatTraining implements TrainingMethod {
    private final double lr;
    private final Map<String, ScaleOnlyQuantLinear> layers = new LinkedHashMap<>();

    /** E2E-QP with learning rate {@code lr} on the step sizes. */
    public EfficientQatTraining(double lr) {
        if (!(lr > 0)) throw new IllegalArgumentException("E2E-QP learning rate must be > 0, got " + lr);
        this.lr = lr;
    }

    @Override
    public String name() {
        return "e2e-qp";
    }

    /**
     * Block-AP over every decoder block of {@code model} (modified in place: its projections become
     * {@link ScaleOnlyQuantLinear}s). {@code calibration} holds batches of token windows (each [b, T] ids, as
     * {@link TokenDataset.Batch#inputs()}); one Block-AP step per batch per epoch. Prints one line per block.
     */
    public static List<BlockAp.Report> blockAp(LlamaForCausalLM model, List<TokenDataset.Batch> calibration, BlockApConfig cfg, PrintStream log) {
        if (calibration.isEmpty()) throw new IllegalArgumentException("Block-AP needs at least one calibration batch");
        List<Tensor> x = new ArrayList<>();
        try {
            try (GradMode.Scope _ = GradMode.noGrad()) {
                for (TokenDataset.Batch b : calibration)
                    try (MemoryScope _ = MemoryScope.open(); Tensor ids = Tensor.of(b.inputs(), b.batch(), b.seqLen())) {
                        x.add(MemoryScope.escape(F.embedding(model.embedTokens(), ids).data().copy()));
                    }
            }
            int blocks = model.layers().size();
            long t0 = System.nanoTime();
            return BlockAp.run(model.layers(), x, cfg, (i, r) -> {
                if (log != null)
                    log.printf(Locale.ROOT, "block-ap block %d/%d: output MSE %.3e (RTN start) -> %.3e after %d steps, %.1f s%n", i + 1, blocks,
                            r.initialMse(), r.finalMse(), r.stepLosses().length, (System.nanoTime() - t0) / 1e9);
            });
        } finally {
            for (Tensor t : x) t.close();
        }
    }

    /** Finds the frozen integer layers Block-AP left; an error when Block-AP has not run. */
    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException("e2e-qp: prepare called twice");
        for (var e : model.namedModules().entrySet()) {
            if (e.getValue() instanceof EfficientQatLinear)
                throw new IllegalStateException(e.getKey() + " is still a Block-AP training layer; freeze it (BlockAp.freeze) before E2E-QP");
            if (e.getValue() instanceof ScaleOnlyQuantLinear q) layers.put(e.getKey(), q);
        }
        if (layers.isEmpty()) throw new IllegalArgumentException("E2E-QP: the model has no integer layers; run Block-AP (EfficientQatTraining.blockAp) first");
    }

    @Override
    public List<Parameter> trainable(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (ScaleOnlyQuantLinear l : layers.values()) out.add(l.scale());
        return out;
    }

    @Override
    public Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        return new AdamW(List.of(new ParamGroup(params, lr, 0)), 0.9, 0.999, 1e-8);
    }

    /** Keeps every step size in [1e-4, 1e4] (the spec's clamp of s). */
    @Override
    public boolean beforeStep(int step, StepRunner runner) {
        clampScales();
        return false;
    }

    private void clampScales() {
        for (ScaleOnlyQuantLinear l : layers.values()) clamp(l);
    }

    private static void clamp(ScaleOnlyQuantLinear l) {
        Tensor s = l.scale().data();
        for (long i = 0, n = s.numel(); i < n; i++)
            s.setDouble(i, Math.max(EfficientQatLinear.S_MIN, Math.min(EfficientQatLinear.S_MAX, s.getDouble(i))));
    }

    /**
     * The integer layers of {@code model} (q, z frozen; the current step sizes, clamped) by path; works after
     * Block-AP alone too. The caller closes them.
     */
    public static Map<String, QuantizedTensor> quantized(Module model) {
        Map<String, QuantizedTensor> out = new LinkedHashMap<>();
        try {
            for (var e : model.namedModules().entrySet())
                if (e.getValue() instanceof ScaleOnlyQuantLinear q) {
                    clamp(q);
                    out.put(e.getKey(), q.toQuantizedTensor());
                }
            if (out.isEmpty()) throw new IllegalArgumentException("the model has no integer layers (run Block-AP first)");
            return out;
        } catch (RuntimeException ex) {
            out.values().forEach(QuantizedTensor::close);
            throw ex;
        }
    }
}
