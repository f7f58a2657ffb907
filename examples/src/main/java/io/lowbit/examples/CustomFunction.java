package io.lowbit.examples;

import io.lowbit.autograd.Function;
import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.train.LinePlot;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Writing your own op: forward and backward side by side in a {@link Function} subclass. First a smooth
 * op (Swish) whose backward {@link GradCheck} confirms against finite differences; then the op that
 * quantization-aware training is built on, fake quantization with a straight-through estimator (STE),
 * whose gradient is deliberately "wrong" (GradCheck says so); and finally a tiny MLP whose weights pass
 * through that op, trained on sin(x) while its forward only ever sees 3-bit weights.
 */
public final class CustomFunction {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "Your own op (Swish, STE fake-quant) with forward/backward side by side, GradCheck, and a 3-bit QAT MLP";

    private CustomFunction() {}

    /** Swish / SiLU, y = x·σ(x). Forward saves x; backward uses dy/dx = σ(x)·(1 + x·(1 − σ(x))). */
    static final class Swish extends Function {
        @Override
        protected Tensor forward(Tensor... in) {
            saveForBackward(in[0]);                        // an input: saving it costs nothing
            try (Tensor s = in[0].sigmoid()) {
                return in[0].mul(s);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor x = saved(0);
            try (MemoryScope scope = MemoryScope.open()) {
                Tensor s = x.sigmoid();
                Tensor oneMinusS = s.neg().add(1.0);
                Tensor dydx = s.mul(x.mul(oneMinusS).add(1.0));
                return new Tensor[] {scope.keep(g.mul(dydx))}; // the gradient escapes the scope, the rest is freed
            }
        }
    }

    /**
     * Symmetric fake quantization to {@code bits} with a fixed step {@code scale}:
     * q(w) = scale·clamp(round(w/scale), −2^(b−1), 2^(b−1)−1). round() has derivative 0 almost everywhere,
     * which would stop all learning, so the straight-through estimator passes the gradient through
     * unchanged where w is inside the grid's range and blocks it where the clamp is active.
     */
    static final class FakeQuantSte extends Function {
        private final double scale;
        private final int qmin, qmax;

        FakeQuantSte(int bits, double scale) {
            this.scale = scale;
            this.qmin = -(1 << (bits - 1));
            this.qmax = (1 << (bits - 1)) - 1;
        }

        @Override
        protected Tensor forward(Tensor... in) {
            saveForBackward(in[0]);
            try (MemoryScope scope = MemoryScope.open()) {
                return scope.keep(in[0].mul(1 / scale).round().clamp(qmin, qmax).mul(scale));
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor w = saved(0);
            Tensor grad = g.copy();                        // dq/dw := 1 inside [qmin, qmax]·scale, 0 outside
            for (long i = 0, n = w.numel(); i < n; i++) {
                double code = w.getDouble(i) / scale;
                if (code < qmin - 0.5 || code > qmax + 0.5) grad.setDouble(i, 0);
            }
            return new Tensor[] {grad};
        }
    }

    public static void main(String[] args) throws IOException {
        ExampleArgs opts = ExampleArgs.parse(args);
        int steps = opts.getInt("steps", 400);
        int bits = opts.getInt("bits", 3);
        Path plot = Path.of(opts.get("plot", Path.of(System.getProperty("lowbit.root", "."), "runs", "examples", "custom-function-loss.png").toString()));
        opts.done();
        if (bits < 2 || bits > 8) throw new IllegalArgumentException("--bits must be in [2, 8], got " + bits);
        long startBytes = Allocator.liveBytes();
        Rng rng = new Rng(11);

        // 1. Swish against the built-in silu, then its backward against central differences (F64 inputs).
        try (Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 2, 3, 7))) {
            try (MemoryScope _ = MemoryScope.open()) {
                Var mine = new Swish().apply(x), builtIn = F.silu(x);
                System.out.printf(Locale.ROOT, "Swish forward matches F.silu: %b%n", mine.data().allClose(builtIn.data(), 1e-12, 1e-12));
            }
            GradCheck.Result ok = GradCheck.check(in -> new Swish().apply(in[0]), 1e-6, 1e-6, 1e-5, x);
            System.out.printf(Locale.ROOT, "GradCheck Swish:          passed=%b  max |analytic - numeric| = %.2e over %d elements%n",
                    ok.passed(), ok.maxAbsError(), ok.checked());

            // 2. The STE is not the true derivative, and GradCheck notices: numerically d round(x)/dx = 0.
            GradCheck.Result ste = GradCheck.check(in -> new FakeQuantSte(bits, 0.5).apply(in[0]), 1e-6, 1e-6, 1e-5, x);
            System.out.printf(Locale.ROOT, "GradCheck FakeQuantSte:   passed=%b  (expected: the STE's gradient is a deliberate approximation)%n",
                    ste.passed());
        }

        // 3. QAT in miniature: the same 1-32-1 MLP fitted to sin(x) twice from the same start. Once in float
        //    and rounded to `bits` afterwards (post-training quantization), once with its weights going
        //    through FakeQuantSte in every forward (quantization-aware training): the float "latent" weights
        //    get the STE gradients, while the forward, and so the loss, only ever sees the grid.
        Fit ptq = fit(0, bits, steps), qat = fit(bits, bits, steps);
        for (int step = 0; step < steps; step++)
            if (step == 0 || (step + 1) % 100 == 0 || step == steps - 1)
                System.out.printf(Locale.ROOT, "step %4d  float loss %.5f   %d-bit QAT loss %.5f%n", step + 1, ptq.losses()[step], bits,
                        qat.losses()[step]);
        System.out.printf(Locale.ROOT, "float model rounded to %d bits after training: loss %.5f%n", bits, ptq.quantizedLoss());
        System.out.printf(Locale.ROOT, "final %d-bit QAT loss %.5f; W1 used %d distinct values (at most %d)%n", bits, qat.quantizedLoss(),
                qat.levels(), 1 << bits);
        double[][] a = new double[steps][], b = new double[steps][];
        for (int i = 0; i < steps; i++) {
            a[i] = new double[] {i + 1, ptq.losses()[i]};
            b[i] = new double[] {i + 1, qat.losses()[i]};
        }
        Files.createDirectories(plot.toAbsolutePath().getParent());
        new LinePlot("sin(x) MLP: float training vs " + bits + "-bit QAT", "step", "MSE").logY(true)
                .add("float", a).add(bits + "-bit QAT (STE)", b).writePng(plot);
        System.out.println("loss curves: " + plot);
        System.out.printf(Locale.ROOT, "leaked bytes: %d%n", Allocator.liveBytes() - startBytes);
    }

    /** Loss per training step, the loss with the final weights on the {@code evalBits} grid, and W1's distinct values there. */
    record Fit(double[] losses, double quantizedLoss, int levels) {}

    /**
     * Fits the MLP y = W2·silu(W1·x + b1) + b2 to sin(x) on [-3, 3] with AdamW. With {@code qatBits} > 0 the
     * weight matrices pass through {@link FakeQuantSte} in every step; the grid step is absmax/(2^(b−1)−1)
     * of each matrix, fixed at the start for QAT (LSQ / LR-QAT would learn it) and taken from the final
     * weights for the post-training rounding.
     */
    static Fit fit(int qatBits, int evalBits, int steps) {
        Rng rng = new Rng(11);                       // the same initial weights for every call
        int n = 64, hidden = 32;
        Parameter w1 = new Parameter(Tensor.normal(DType.F32, rng, 0, 1.0, hidden, 1));
        Parameter b1 = new Parameter(Tensor.zeros(DType.F32, hidden));
        Parameter w2 = new Parameter(Tensor.normal(DType.F32, rng, 0, 1.0 / Math.sqrt(hidden), 1, hidden));
        Parameter b2 = new Parameter(Tensor.zeros(DType.F32, 1));
        List<Parameter> params = List.of(w1, b1, w2, b2);
        float[] xs = new float[n], ys = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = -3f + 6f * i / (n - 1);
            ys[i] = (float) Math.sin(xs[i]);
        }
        double[] losses = new double[steps];
        try (Tensor x = Tensor.of(xs, n, 1); Tensor y = Tensor.of(ys, n, 1);
             AdamW opt = new AdamW(params, 1e-2, 0.9, 0.999, 1e-8, 0.0)) {
            Var input = Var.of(x), target = Var.of(y);
            double s1 = step(w1, qatBits > 0 ? qatBits : evalBits), s2 = step(w2, qatBits > 0 ? qatBits : evalBits);
            for (int i = 0; i < steps; i++) {
                // cosine learning-rate decay from 1e-2 to 0: QAT's STE updates make the loss jump between grid
                // points, and a shrinking step lets the weights settle
                opt.paramGroups().get(0).setLr(1e-2 * 0.5 * (1 + Math.cos(Math.PI * i / steps)));
                try (MemoryScope _ = MemoryScope.open()) {
                    Var q1 = qatBits > 0 ? new FakeQuantSte(qatBits, s1).apply(w1) : w1;
                    Var q2 = qatBits > 0 ? new FakeQuantSte(qatBits, s2).apply(w2) : w2;
                    Var mse = F.mseLoss(F.linear(F.silu(F.linear(input, q1, b1)), q2, b2), target);
                    mse.backward();
                    losses[i] = mse.item();
                    opt.step();
                    opt.zeroGrad();
                }
            }
            // the trained weights on the grid: QAT keeps the scales it trained with, PTQ fits them now
            if (qatBits == 0) {
                s1 = step(w1, evalBits);
                s2 = step(w2, evalBits);
            }
            try (MemoryScope _ = MemoryScope.open(); GradMode.Scope _ = GradMode.noGrad()) {
                Var q1 = new FakeQuantSte(evalBits, s1).apply(w1), q2 = new FakeQuantSte(evalBits, s2).apply(w2);
                double loss = F.mseLoss(F.linear(F.silu(F.linear(input, q1, b1)), q2, b2), target).item();
                int levels = (int) java.util.Arrays.stream(q1.data().toDoubleArray()).distinct().count();
                return new Fit(losses, loss, levels);
            }
        } finally {
            for (Parameter p : params) p.close();
        }
    }

    /** Grid step that puts the largest |w| on the last positive code 2^(b−1)−1 of a symmetric b-bit grid. */
    private static double step(Var w, int bits) {
        return w.data().absMax() / ((1 << (bits - 1)) - 1);
    }
}
