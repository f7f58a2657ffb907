package io.lowbit.examples;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.FullTraining;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.methods.LoQTTraining;
import io.lowbit.quant.loqt.Compensation;
import io.lowbit.quant.loqt.LoQTLinear;
import io.lowbit.quant.loqt.UpdateSchedule;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * LoQT pretraining, piece by piece (specs/loqt.md). Each linear weight is W_eff = deq(Q) + s·B·A with Q in NF4,
 * one factor a FIXED projection P taken from the gradient's top singular vectors and the other factor the
 * only thing the optimizer trains. Every so often (the exponential schedule) an update step merges the factors
 * into W, requantizes, computes a full gradient, takes a new P from its SVD and re-fits the trainable factor
 * so that the quantization error is partly absorbed (error compensation).
 *
 * <ol>
 *   <li>the update schedule T;</li>
 *   <li>one layer by hand: training the trainable factor, then one update step (merge, requantize NF4,
 *       full gradient G, P from SVD(G), compensation);</li>
 *   <li>pretraining a small LLaMA with LoQT and with full-rank AdamW on the same data, and the measured
 *       memory by component.</li>
 * </ol>
 * Options: {@code --steps N} (pretraining steps, default 150), {@code --lr-full}, {@code --lr-loqt}.
 */
public final class LoQTPretraining {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "LoQT step by step: schedule, one update step on one layer, then pretraining vs full with memory by component";

    private LoQTPretraining() {}

    public static void main(String[] args) throws Exception {
        long live0 = Allocator.liveBytes();
        ExampleArgs opts = ExampleArgs.parse(args);
        int steps = opts.getInt("steps", 150);
        double lrFull = opts.getDouble("lr-full", 3e-3), lrLoqt = opts.getDouble("lr-loqt", 1e-2);
        opts.done();

        // ---------------------------------------------------------------- 1. the schedule
        // T = [0, τ]; then t_{k+1} = t_k + τ + ⌊ψ^k⌋ (spec "Schedule T"): intervals grow, because the
        // projection P needs refreshing less often as training settles.
        System.out.println("1. update steps T (tau 100, psi 1.2, the paper's): " + UpdateSchedule.paperDefault().steps(1127));
        int tau = Math.max(2, steps / 6); // scaled down for a short run
        UpdateSchedule ours = new UpdateSchedule(UpdateSchedule.Kind.EXPONENTIAL, tau, 1.2);
        System.out.println("   this run (tau " + tau + ", " + steps + " steps): " + ours.steps(steps - 1));

        // ---------------------------------------------------------------- 2. one layer by hand
        System.out.println();
        oneLayer();

        // ---------------------------------------------------------------- 3. pretraining: LoQT vs full
        System.out.println();
        pretrain(steps, tau, lrFull, lrLoqt);
        System.out.println("leaked bytes: " + (Allocator.liveBytes() - live0));
    }

    /** A 96×64 layer learns a target map: the trainable factor trains, then one update step is taken apart. */
    private static void oneLayer() {
        int out = 96, in = 64, r = 8;
        double s = 0.5; // s, used directly (spec "Parametrization")
        Rng rng = new Rng(7);
        try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, out, in);
             Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 256, in);
             Tensor target = targetMap(w0, rng);
             Tensor y = x.matmul(target.t());
             LoQTLinear layer = new LoQTLinear(w0, null, r, s, true, true)) {
            // in (64) ≤ out (96): P = A (r×in) is fixed, B (out×r) trains.
            System.out.printf(Locale.ROOT, "2. one LoQT layer [%d, %d], r %d, s %.1f: P is %s, the trainable factor is %s %s%n",
                    out, in, r, s, layer.side() == Compensation.ProjectionSide.INPUT ? "A" : "B",
                    layer.side() == Compensation.ProjectionSide.INPUT ? "B" : "A", java.util.Arrays.toString(layer.factor().shape()));
            System.out.printf(Locale.ROOT, "   W in fp32 %d bytes; Q in NF4 %d bytes; P in NF4 %d bytes; factor fp32 %d bytes%n",
                    (long) out * in * 4, layer.weightBytes(), layer.projectionBytes(), layer.factor().data().numel() * 4);
            // Step 0 is an update step: before it both factors are 0, so it only sets P from the first gradient.
            updateStep(layer, x, y, 0);
            // Train the trainable factor (only it: Q and P get no gradient) for a few AdamW steps.
            try (AdamW opt = new AdamW(List.of(layer.factor()), 1e-2, 0.9, 0.999, 1e-6, 0)) {
                for (int t = 1; t <= 60; t++) {
                    double l = loss(layer, x, y, true);
                    opt.step();
                    opt.zeroGrad();
                    if (t == 1 || t % 20 == 0) System.out.printf(Locale.ROOT, "   train B: step %2d  loss %.6f%n", t, l);
                }
            }
            // A later update step: now s·B·A ≠ 0, so merging, requantizing and compensating all matter.
            updateStep(layer, x, y, 1);
        }
    }

    /** The map to learn: the initial weight plus a rank-4 change (what a few factor updates can express). */
    private static Tensor targetMap(Tensor w0, Rng rng) {
        try (MemoryScope sc = MemoryScope.open()) {
            Tensor u = Tensor.normal(DType.F32, rng, 0, 0.1, w0.size(0), 4), v = Tensor.normal(DType.F32, rng, 0, 0.1, 4, w0.size(1));
            Tensor t = w0.copy();
            t.addInPlace(u.matmul(v), 1);
            return sc.keep(t);
        }
    }

    /** Mean squared error of the layer on (x, y); with {@code backward} the factor's gradient is accumulated. */
    private static double loss(LoQTLinear layer, Tensor x, Tensor y, boolean backward) {
        try (MemoryScope sc = MemoryScope.open()) {
            Var d = F.sub(layer.forward(Var.of(x)), Var.of(y));
            Var l = F.mean(F.square(d));
            if (backward) l.backward();
            return l.item();
        }
    }

    /** One update step (spec "Update steps" 1–4) on one layer, printing what each piece does. */
    private static void updateStep(LoQTLinear layer, Tensor x, Tensor y, int k) {
        System.out.printf(Locale.ROOT, "   update step %d (loss before %.6f)%n", k, loss(layer, x, y, false));
        Tensor wfp = layer.effectiveWeight(); // step 1, merge: W_fp = deq(Q) + s·B·A
        try (Tensor base = layer.baseWeight()) {
            System.out.printf(Locale.ROOT, "     1 merge      W_fp = deq(Q) + s*B*A, |s*B*A|_F = %.5f%n", Compensation.frobeniusDiff(wfp, base));
        }
        layer.beginUpdate(); // Q' = NF4(W_fp), adapter off
        double plain;
        try (Tensor q = layer.temporaryWeight().dequantize()) {
            plain = Compensation.frobeniusDiff(wfp, q);
            System.out.printf(Locale.ROOT, "     1 requantize Q' = NF4(W_fp), |W_fp - deq(Q')|_F = %.5f  (the error with C = 0)%n", plain);
        }
        loss(layer, x, y, true); // step 2: backward through Q' accumulates G = dL/dW into the layer's side buffer
        double[] g = layer.fullGradient().toDoubleArray();
        double g2 = 0;
        for (double v : g) g2 += v * v;
        System.out.printf(Locale.ROOT, "     2 full gradient G %s, |G|_F = %.5f%n", java.util.Arrays.toString(layer.fullGradient().shape()), Math.sqrt(g2));
        // steps 3 and 4: P = top-r singular vectors of G, NF4(P); then C = 5 compensation iterations
        LoQTLinear.UpdateReport rep = layer.finishUpdate(5, 1234 + k);
        double top = 0;
        for (double sv : rep.singularValues()) top += sv * sv;
        System.out.printf(Locale.ROOT, "     3 SVD        top-%d singular values %s hold %.1f%% of |G|^2%n", layer.rank,
                fmt(rep.singularValues(), 4), 100 * top / g2);
        System.out.printf(Locale.ROOT, "     4 compensate errors per iteration %s, kept iteration %d: %.5f vs %.5f without (%.1f%% lower)%n",
                fmt(rep.compensationErrors(), 5), rep.bestIteration() + 1, rep.compensationErrors()[rep.bestIteration()], plain,
                100 * (1 - rep.compensationErrors()[rep.bestIteration()] / plain));
        try (Tensor now = layer.effectiveWeight()) {
            System.out.printf(Locale.ROOT, "     now |W_fp - (deq(Q) + s*B*A)|_F = %.5f, loss %.6f%n", Compensation.frobeniusDiff(now, wfp), loss(layer, x, y, false));
        }
        wfp.close();
    }

    private static String fmt(double[] v, int n) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(n, v.length); i++) sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.4f", v[i]));
        return sb.append(v.length > n ? ", ...]" : "]").toString();
    }

    /** A 4-layer, dim-64 LLaMA on the built-in corpus, once with LoQT and once full-rank, same data and seed. */
    private static void pretrain(int steps, int tau, double lrFull, double lrLoqt) throws Exception {
        Path cache = Files.createTempDirectory("lowbit-loqt-example");
        String text = TokenizedCorpus.builtInText().substring(0, 300_000);
        TokenizedCorpus corpus = TokenizedCorpus.prepare(text, 512, cache, new PrintStream(new ByteArrayOutputStream()));
        LlamaConfig cfg = LlamaConfig.of(64, 176, 4, 4, 4, 512, 64, 1e-5, 10000, true);
        System.out.printf(Locale.ROOT, "3. pretraining a LLaMA (dim 64, 4 layers, %,d parameters) on %,d tokens of Moby-Dick, %d steps of 8x64 tokens%n",
                cfg.parameterCount(), corpus.tokens().length, steps);
        // LoQT options: rank 16, s 0.5, exponential schedule (tau above, psi 1.2), C = 5, NF4 projection
        MethodOptions loqt = new MethodOptions(16, 0.5, tau, 1.2, UpdateSchedule.Kind.EXPONENTIAL, 5, true);
        Trainer.Result full = run(cfg, corpus, new FullTraining(), steps, lrFull, new long[1]);
        Trainer.Result lq;
        try (LoQTTraining m = new LoQTTraining(loqt, true)) {
            long[] trained = new long[1];
            lq = run(cfg, corpus, m, steps, lrLoqt, trained);
            System.out.printf(Locale.ROOT, "   loqt made %d update steps; it trains %,d numbers (factors, embeddings, norms), full trains %,d%n",
                    m.updates(), trained[0], cfg.parameterCount());
        }
        for (Trainer.Result r : List.of(full, lq))
            System.out.printf(Locale.ROOT, "   %-5s lr %.0e  validation perplexity %.2f%n", r.method(), r.method().equals("full") ? lrFull : lrLoqt,
                    r.finalValPerplexity());
        System.out.println("   peak memory by component (KiB)   full     loqt");
        for (MemoryCategory c : MemoryReport.SHOWN)
            System.out.printf(Locale.ROOT, "     %-28s %8.1f %8.1f%n", c.name().toLowerCase(Locale.ROOT), full.memory().peak(c) / 1024.0,
                    lq.memory().peak(c) / 1024.0);
        long wf = weightsAndOptimizer(full.memory()), wl = weightsAndOptimizer(lq.memory());
        System.out.printf(Locale.ROOT, "   weights + optimizer states: loqt %.1f KiB = %.0f%% of full's %.1f KiB%n", wl / 1024.0, 100.0 * wl / wf, wf / 1024.0);
        try (var files = Files.walk(cache)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Trains {@code method} with the Trainer (which prints nothing here); {@code trained[0]} gets the trained element count. */
    private static Trainer.Result run(LlamaConfig cfg, TokenizedCorpus corpus, TrainingMethod method, int steps, double lr, long[] trained) throws Exception {
        TokenDataset data = new TokenDataset(corpus.tokens(), 0.05, 64, 42); // same windows, same order for both
        TrainConfig tc = TrainConfig.defaults(steps, 8, 1, lr).withEval(0, 32, 0, 1000);
        try (LlamaForCausalLM model = new LlamaForCausalLM(cfg, 42);
             Trainer t = new Trainer(model, method, data, tc, new PrintStream(new ByteArrayOutputStream()))) {
            trained[0] = t.trainable().stream().mapToLong(p -> p.data().numel()).sum();
            Trainer.Result r = t.run();
            if (r.failed()) throw new IllegalStateException(method.name() + " failed: " + r.failure());
            return r;
        }
    }

    /** Weights + optimizer states: the paper's memory column (weights, NF4 weights, adapters incl. P, Adam moments). */
    static long weightsAndOptimizer(MemoryReport m) {
        return m.peak(MemoryCategory.WEIGHTS) + m.peak(MemoryCategory.QUANTIZED) + m.peak(MemoryCategory.ADAPTERS) + m.peak(MemoryCategory.OPTIMIZER);
    }
}
