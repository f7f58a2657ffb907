package io.lowbit.quant.lrqat;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** LR-QAT (spec lr-qat.md, "Forward" and "Checkpointing") on small exact cases. */
@ExtendWith(NoLeaks.class)
class LrQatLinearTest {
    /**
     * W0/s0 = [[3.2, −9.1, 0.5], [6.6, 2, −4]] (s0 = 0.1, stored unrounded with φ = F32), A = [[1], [0.5]],
     * B = [[2.4, 2, −1.2]], α/r = 1: P = Φ0 + AB = [[5.6, −7.1, −0.7], [7.8, 3, −4.6]],
     * R = [[6, −7, −1], [8, 3, −5]], clamp to [−8, 7] clips only R[1,0] = 8 → 7.
     * With s = [[0.2], [0.05]]: Ŵ = [[1.2, −1.4, −0.2], [0.35, 0.15, −0.25]].
     */
    @Test
    void forwardAndSteGradientsMatchHandComputedCase() {
        try (MemoryScope _ = MemoryScope.open();
             Tensor w0 = Tensor.of(new double[] {0.32, -0.91, 0.05, 0.66, 0.2, -0.4}, 2, 3);
             Phi0 phi = Phi0.of(w0, new float[] {0.1f, 0.1f}, 3, 4, Downcast.F32)) {
            Var x = Var.param(Tensor.of(new double[] {1, 2, 3}, 1, 3));
            Var a = Var.param(Tensor.of(new double[] {1, 0.5}, 2, 1));
            Var b = Var.param(Tensor.of(new double[] {2.4, 2, -1.2}, 1, 3));
            Var s = Var.param(Tensor.of(new double[] {0.2, 0.05}, 2, 1));
            LrQatFunction fn = new LrQatFunction(phi, 1.0, 3);
            try (Tensor w = fn.fakeQuantWeight(a.data(), b.data(), s.data())) {
                assertArrayEquals(new double[] {1.2, -1.4, -0.2, 0.35, 0.15, -0.25}, w.toDoubleArray(), 1e-12);
            }
            Var y = fn.apply(x, a, b, s);
            assertArrayEquals(new double[] {-2.2, -0.1}, y.data().toDoubleArray(), 1e-12);
            F.sum(y).backward();
            // ∂L/∂Ŵ = Gᵀx = [[1,2,3],[1,2,3]]; ∂L/∂s = Σ ∂L/∂Ŵ·clamp(R): 6 − 14 − 3 = −11 and 7 + 6 − 15 = −2
            assertArrayEquals(new double[] {-11, -2}, s.grad().toDoubleArray(), 1e-12);
            // M = ∂L/∂Ŵ·s·1[in range] = [[0.2, 0.4, 0.6], [0 (clipped), 0.1, 0.15]]
            assertArrayEquals(new double[] {0.2 * 2.4 + 0.4 * 2 - 0.6 * 1.2, 0.1 * 2 - 0.15 * 1.2}, a.grad().toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {0.2, 0.4 + 0.05, 0.6 + 0.075}, b.grad().toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {1.55, -1.25, -0.45}, x.grad().toDoubleArray(), 1e-12);
            for (Var v : List.of(x, a, b, s)) v.zeroGrad();
        }
    }

    /** A clipped element passes no gradient to A or B; moving it back inside the grid restores it. */
    @Test
    void clippedElementsBlockLowRankGradient() {
        try (MemoryScope _ = MemoryScope.open();
             Tensor w0 = Tensor.of(new double[] {0.69, 0.1}, 1, 2);      // Φ0 = 6.9, 1
             Phi0 phi = Phi0.of(w0, new float[] {0.1f}, 2, 4, Downcast.F32)) {
            Var s = Var.param(Tensor.of(new double[] {0.1}, 1, 1));
            Var b = new Var(Tensor.of(new double[] {1, 0}, 1, 2));
            for (double aVal : new double[] {2.0, -2.0}) {               // P[0,0] = 8.9 (clipped) or 4.9 (inside)
                Var a = Var.param(Tensor.of(new double[] {aVal}, 1, 1));
                Var x = new Var(Tensor.of(new double[] {1, 1}, 1, 2));
                F.sum(new LrQatFunction(phi, 1.0, 2).apply(x, a, b, s)).backward();
                assertEquals(aVal > 0 ? 0.0 : 0.1, a.grad().item(), 1e-15, "∂L/∂A with P = " + (6.9 + aVal));
                assertEquals(aVal > 0 ? 7 + 1 : 5 + 1, s.grad().item(), 1e-12, "∂L/∂s = Σ clamp(R)");
                a.zeroGrad();
                s.zeroGrad();
            }
        }
    }

    /**
     * Backward vs central differences in F64 on the smooth surrogate (round_STE replaced by the identity,
     * whose exact derivative is the straight-through gradient), per-group scales with a partial last
     * group, about a third of the elements clipped.
     */
    @Test
    void surrogateGradientsMatchFiniteDifferences() {
        Rng rng = new Rng(41);
        try (MemoryScope _ = MemoryScope.open(); Tensor w0 = Tensor.normal(DType.F64, rng, 0, 1, 4, 5)) {
            float[] s0 = new float[4 * 3];
            java.util.Arrays.fill(s0, 0.12f);                            // |W0/s0| up to ~20: many clipped
            try (Phi0 phi = Phi0.of(w0, s0, 2, 4, Downcast.F32)) {
                Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 3, 5));
                Var a = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 4, 2));
                Var b = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 5));
                Var s = Var.param(Tensor.uniform(DType.F64, rng, 0.05, 0.2, 4, 3));
                GradCheck.Result r = GradCheck.assertGradients(in -> new LrQatFunction(phi, 0.7, 2, false).apply(in[0], in[1], in[2], in[3]),
                        1e-6, 1e-7, 1e-6, x, a, b, s);
                assertEquals(15 + 8 + 10 + 12, r.checked());
            }
        }
    }

    /** With real rounding, Ŵ is exactly linear in x and s (s0 is frozen inside Φ0), so finite differences apply directly. */
    @Test
    void inputAndScaleGradientsMatchFiniteDifferencesWithRounding() {
        Rng rng = new Rng(42);
        try (MemoryScope _ = MemoryScope.open(); Tensor w0 = Tensor.normal(DType.F64, rng, 0, 0.05, 6, 7)) {
            float[] s0 = LpRangeSearch.scales(w0, 3, 4, 4);
            try (Phi0 phi = Phi0.of(w0, s0, 4, 3, Downcast.FIXED_POINT_INT8)) {
                Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 3, 7));
                Var a = new Var(Tensor.normal(DType.F64, rng, 0, 0.5, 6, 3));
                Var b = new Var(Tensor.normal(DType.F64, rng, 0, 0.5, 3, 7));
                Var s = Var.param(Tensor.uniform(DType.F64, rng, 0.01, 0.03, 6, 2));
                GradCheck.assertGradients(in -> new LrQatFunction(phi, 1.0 / 3, 4).apply(in[0], in[1], in[2], in[3]), x, a, b, s);
            }
        }
    }

    /** φ variants: Q4.4 keeps 4 fractional bits, INT rounds; on representable (integer) values both agree exactly. */
    @Test
    void downcastVariants() {
        try (Tensor w0 = Tensor.of(new double[] {0.32, -0.91, 0.05, 0.66, 0.2, -0.4}, 2, 3);
             Phi0 fx = Phi0.of(w0, new float[] {0.1f, 0.1f}, 3, 4, Downcast.FIXED_POINT_INT8);
             Phi0 in = Phi0.of(w0, new float[] {0.1f, 0.1f}, 3, 4, Downcast.INT_PACKED)) {
            double[] q44 = {51 / 16.0, -8, 0.5, 106 / 16.0, 2, -4};            // round(clamp(v, −8, 7)·16)/16
            double[] i4 = {3, -8, 0, 7, 2, -4};                                  // round-and-clip, half to even
            for (int i = 0; i < 6; i++) {
                assertEquals(q44[i], fx.get(i / 3, i % 3), 1e-12, "Q4.4 element " + i);
                assertEquals(i4[i], in.get(i / 3, i % 3), 0, "INT4 element " + i);
            }
            assertEquals(6, fx.bytes());
            assertEquals(2 * 2, in.bytes(), "two INT4 values per byte");
        }
        for (int bits : new int[] {2, 3, 4, 8})
            for (int cols : new int[] {1, 7, 33}) {
                int rows = 5, qmin = -(1 << (bits - 1)), levels = 1 << bits;
                Rng rng = new Rng(bits * 100 + cols);
                double[] v = new double[rows * cols];
                for (int i = 0; i < v.length; i++) v[i] = 0.25 * (qmin + rng.nextInt(levels));   // s0 = 0.25, W0/s0 integer
                float[] s0 = new float[rows];
                java.util.Arrays.fill(s0, 0.25f);
                try (Tensor w0 = Tensor.of(v, rows, cols);
                     Phi0 fx = Phi0.of(w0, s0, cols, bits, Downcast.FIXED_POINT_INT8);
                     Phi0 in = Phi0.of(w0, s0, cols, bits, Downcast.INT_PACKED);
                     Phi0 bf = Phi0.of(w0, s0, cols, bits, Downcast.BF16)) {
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++) {
                            double want = v[r * cols + c] / 0.25;
                            assertEquals(want, fx.get(r, c), 0, "fixed point, " + bits + " bits");
                            assertEquals(want, in.get(r, c), 0, "packed int, " + bits + " bits");
                            assertEquals(want, bf.get(r, c), 0, "bf16, " + bits + " bits");
                        }
                    long perRow = bits <= 4 ? (cols + 1) / 2 : cols;
                    assertEquals(rows * perRow, in.bytes(), "packed bytes for " + bits + " bits, " + cols + " cols");
                }
            }
    }

    /** fakeQuantWeight vs a plain reference loop of the spec's equation, odd shapes, every φ, per channel and per group. */
    @Test
    void fakeQuantWeightMatchesReferenceLoop() {
        for (Downcast phiKind : Downcast.values())
            for (int[] shape : new int[][] {{1, 1}, {7, 33}, {33, 65}, {65, 7}}) {
                int out = shape[0], in = shape[1], gc = in > 8 ? 8 : in, ng = (in + gc - 1) / gc, rank = 3, bits = 3;
                Rng rng = new Rng(out * 131 + in + phiKind.ordinal());
                try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, out, in);
                     Tensor a = Tensor.normal(DType.F32, rng, 0, 0.7, out, rank);
                     Tensor b = Tensor.normal(DType.F32, rng, 0, 0.7, rank, in);
                     Tensor s = Tensor.uniform(DType.F32, rng, 0.01, 0.03, out, ng)) {
                    float[] s0 = LpRangeSearch.scales(w0, bits, gc, 4);
                    try (Phi0 phi = Phi0.of(w0, s0, gc, bits, phiKind); Tensor w = new LrQatFunction(phi, 0.5, gc).fakeQuantWeight(a, b, s)) {
                        for (int r = 0; r < out; r++)
                            for (int c = 0; c < in; c++) {
                                double ab = 0;
                                for (int k = 0; k < rank; k++) ab += a.get(r, k) * b.get(k, c);
                                double p = phi.get(r, c) + 0.5 * ab;
                                double want = s.get(r, c / gc) * Math.max(-4, Math.min(3, Math.rint(p)));
                                assertEquals((float) want, (float) w.get(r, c), 1e-9, phiKind + " " + out + "x" + in + " at [" + r + ", " + c + "]");
                            }
                    }
                }
            }
    }

    /** Shape mismatches name both shapes. */
    @Test
    void badShapesAreRejectedClearly() {
        try (Tensor w0 = Tensor.normal(DType.F32, new Rng(50), 0, 0.05, 4, 6);
             LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withRank(2), new Rng(1), DType.F32);
             MemoryScope _ = MemoryScope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.forward(new Var(Tensor.zeros(DType.F32, 2, 5))));
            assertTrue(e.getMessage().contains("[2, 5]") && e.getMessage().contains("6"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new LrQatLinear(w0, Tensor.zeros(DType.F32, 5), LrQatConfig.defaults(), new Rng(1), DType.F32));
            assertThrows(IllegalArgumentException.class, () -> LrQatConfig.defaults().withBits(5));
        }
    }

    /** Same integers from both φ variants through a whole layer, for a weight on the s0 grid. */
    @Test
    void downcastVariantsMergeToIdenticalIntegers() {
        Rng rng = new Rng(43);
        double[] v = new double[9 * 33];
        for (int i = 0; i < v.length; i++) v[i] = 0.01 * (rng.nextInt(15) - 7);
        v[0] = 0.07;                                                      // every row's max |w| is 0.07 ...
        for (int r = 1; r < 9; r++) v[r * 33] = -0.07;                   // ... so min-max s0 = 0.01 exactly
        LrQatConfig cfg = LrQatConfig.defaults().withRank(4).withRangeP(0);
        try (Tensor w0 = Tensor.of(v, 9, 33);
             LrQatLinear fx = new LrQatLinear(w0, null, cfg.withDowncast(Downcast.FIXED_POINT_INT8), new Rng(1), DType.F32);
             LrQatLinear in = new LrQatLinear(w0, null, cfg.withDowncast(Downcast.INT_PACKED), new Rng(1), DType.F32)) {
            for (LrQatLinear l : List.of(fx, in)) {                       // the same trained A on both
                Rng ar = new Rng(7);
                for (int i = 0; i < l.loraA().numel(); i++) l.loraA().data().setDouble(i, 0.3 * ar.nextGaussian());
            }
            try (AffineQuantizedTensor qa = fx.merge(); AffineQuantizedTensor qb = in.merge()) {
                for (int r = 0; r < 9; r++)
                    for (int c = 0; c < 33; c++) assertEquals(qa.code(r, c), qb.code(r, c), "code [" + r + ", " + c + "]");
            }
        }
    }

    /** merge() is a plain integer weight whose dequantized values are bit-identical to the F32 fake-quantized weight. */
    @Test
    void mergeEqualsFakeQuant() {
        for (int group : new int[] {0, 16}) {
            Rng rng = new Rng(44 + group);
            try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, 31, 65);
                 LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withRank(8).withGroupSize(group), rng, DType.F32)) {
                for (int i = 0; i < l.loraA().numel(); i++) l.loraA().data().setDouble(i, 0.5 * rng.nextGaussian());
                for (int i = 0; i < l.scale().numel(); i++) l.scale().data().setDouble(i, l.scale().data().getDouble(i) * (0.9 + 0.2 * rng.nextDouble()));
                try (Tensor w = l.fakeQuantWeight(); AffineQuantizedTensor q = l.merge(); Tensor d = q.dequantize()) {
                    assertArrayEquals(w.toFloatArray(), d.toFloatArray(), "merged weight, group " + group);
                    assertTrue(q.spec().symmetric());
                    assertEquals(4, q.bits());
                }
            }
        }
    }

    /** A zero-initialized, B Kaiming-uniform: the layer starts as round-to-nearest with the L_4 scales. */
    @Test
    void initializationIsRoundToNearest() {
        Rng rng = new Rng(45);
        try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, 7, 33);
             LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withRank(3).withDowncast(Downcast.INT_PACKED), rng, DType.F32);
             AffineQuantizedTensor q = l.merge()) {
            assertEquals(0.0, l.loraA().data().absMax());
            double bound = 1 / Math.sqrt(33), bmax = l.loraB().data().absMax();
            assertTrue(bmax > 0.5 * bound && bmax <= bound, "B uniform in ±1/√in, max |B| = " + bmax);
            float[] s0 = LpRangeSearch.scales(w0, 4, 33, 4);
            for (int r = 0; r < 7; r++)
                for (int c = 0; c < 33; c++) {
                    int want = (int) Math.max(-8, Math.min(7, Math.rint(w0.get(r, c) / s0[r])));
                    assertEquals(want, q.code(r, c) - 8, "RTN code [" + r + ", " + c + "]");
                }
            assertEquals(MemoryCategory.ADAPTERS, l.loraB().data().category());
        }
    }

    /** The L_4 search is the exact argmin over k = 1..100 and never worse than min-max. */
    @Test
    void lpRangeSearchIsTheArgminOverThresholds() {
        Rng rng = new Rng(46);
        double[] w = new double[64];
        for (int i = 0; i < w.length; i++) w[i] = rng.nextGaussian();
        w[5] = 9;                                                          // an outlier: L_4 still clips some of it
        for (int bits : new int[] {2, 3, 4}) {
            int qmax = (1 << (bits - 1)) - 1, qmin = -(1 << (bits - 1));
            float s = LpRangeSearch.scale(w, 0, 64, bits, 4);
            double best = Double.MAX_VALUE;
            for (int k = 1; k <= 100; k++) best = Math.min(best, LpRangeSearch.error(w, 0, 64, (float) (k * 9.0 / 100 / qmax), qmin, qmax, 4));
            assertEquals(best, LpRangeSearch.error(w, 0, 64, s, qmin, qmax, 4), 0, bits + " bits");
            float mm = LpRangeSearch.scale(w, 0, 64, bits, 0);
            assertEquals((float) (9.0 / qmax), mm);
            assertTrue(s <= mm, "L_4 never picks a larger threshold than min-max at " + bits + " bits");
            assertTrue(LpRangeSearch.error(w, 0, 64, s, qmin, qmax, 4) <= LpRangeSearch.error(w, 0, 64, mm, qmin, qmax, 4));
        }
    }

    /**
     * The whole fake-quant function is recomputed in backward: between forward and backward only the
     * output is alive (no dense Ŵ), and the forward's transient peak is one dense weight.
     */
    @Test
    void noDenseWeightIsKeptBetweenForwardAndBackward() {
        Rng rng = new Rng(47);
        int out = 64, in = 96, tokens = 2;
        try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, out, in);
             LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withRank(4), rng, DType.F32);
             MemoryScope _ = MemoryScope.open()) {
            Var x = new Var(Tensor.normal(DType.F32, rng, 0, 1, tokens, in));
            long before = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
            Allocator.resetPeak();
            Var y = l.forward(x);
            long dense = (long) out * in * 4, yBytes = (long) tokens * out * 4;
            assertEquals(before + yBytes, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "only y [2, 64] is alive after forward");
            long transient_ = Allocator.peakBytes(MemoryCategory.ACTIVATIONS) - before;
            assertTrue(transient_ >= dense && transient_ <= dense + yBytes, "forward peak " + transient_ + " = one dense Ŵ (" + dense + ") + y");
            F.sum(y).backward();
            assertNotNull(l.loraA().grad());
            assertNotNull(l.loraB().grad());
            assertNotNull(l.scale().grad());
            l.zeroGrad();
        }
    }

    /** Persistent training state (weights, frozen Φ0, adapters, gradients, AdamW moments) after one step, in bytes. */
    private static long trainingStateBytes(io.lowbit.autograd.nn.Layer layer, List<? extends Var> trainable, Tensor x) {
        MemoryCategory[] cats = {MemoryCategory.WEIGHTS, MemoryCategory.QUANTIZED, MemoryCategory.ADAPTERS, MemoryCategory.GRADIENTS, MemoryCategory.OPTIMIZER};
        long before = 0;
        for (MemoryCategory c : cats) before += Allocator.liveBytes(c);
        long after = 0;
        try (AdamW opt = new AdamW(trainable, 1e-3, 0.9, 0.95, 1e-8, 0); MemoryScope _ = MemoryScope.open()) {
            F.sum(layer.forward(new Var(x))).backward();
            opt.step();
            for (MemoryCategory c : cats) after += Allocator.liveBytes(c);   // gradients still held, as before zero_grad
            opt.zeroGrad();
        }
        return after - before;
    }

    /**
     * The spec's memory claim at layer scale: full QAT keeps an F32 weight, its gradient and two AdamW moments
     * (16 bytes per weight); LR-QAT keeps Φ0 in 1 byte (Q4.4) or ½ byte (INT4) per weight plus rank-r
     * factors and per-channel scales with their gradients and moments.
     */
    @Test
    void trainingStateIsAFractionOfFullQat() {
        Rng rng = new Rng(60);
        int out = 256, in = 512;
        try (Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 4, in);
             io.lowbit.autograd.nn.Linear full = new io.lowbit.autograd.nn.Linear(in, out, false, rng)) {
            long fullBytes = trainingStateBytes(full, List.of(full.weight()), x) + 4L * out * in; // + the weight itself (made before)
            long[] lr = new long[2];
            Downcast[] kinds = {Downcast.FIXED_POINT_INT8, Downcast.INT_PACKED};
            for (int k = 0; k < 2; k++) {
                long before = Allocator.liveBytes(MemoryCategory.QUANTIZED) + Allocator.liveBytes(MemoryCategory.ADAPTERS) + Allocator.liveBytes(MemoryCategory.WEIGHTS);
                try (LrQatLinear l = new LrQatLinear(full.weight().data(), null, LrQatConfig.defaults().withDowncast(kinds[k]), rng, DType.F32)) {
                    long frozen = Allocator.liveBytes(MemoryCategory.QUANTIZED) + Allocator.liveBytes(MemoryCategory.ADAPTERS)
                            + Allocator.liveBytes(MemoryCategory.WEIGHTS) - before;
                    lr[k] = frozen + trainingStateBytes(l, List.of(l.loraA(), l.loraB(), l.scale()), x);
                }
            }
            System.out.printf("training state of a [%d, %d] layer (r 32): full QAT %d B, LR-QAT Q4.4 %d B (%.1f%%), LR-QAT INT4 %d B (%.1f%%)%n",
                    out, in, fullBytes, lr[0], 100.0 * lr[0] / fullBytes, lr[1], 100.0 * lr[1] / fullBytes);
            assertEquals(16L * out * in, fullBytes, "full QAT: weight + gradient + 2 moments in F32");
            long adapters = 4L * 32 * (out + in) + 4L * out;                   // A, B, s
            assertEquals((long) out * in + 4 * adapters, lr[0], "Q4.4: 1 byte per weight + 4 copies of A, B, s");
            assertEquals((long) out * in / 2 + 4 * adapters, lr[1], "INT4: two weights per byte + 4 copies of A, B, s");
        }
    }

    /** W4A8: per-token 8-bit activations within half a step, STE gradient, and the layer applies them before the matmul. */
    @Test
    void dynamicPerTokenActivationQuantization() {
        Rng rng = new Rng(48);
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 3, 33));
            Var q = ActQuant8.quantize(x);
            for (int t = 0; t < 3; t++) {
                double mn = 0, mx = 0;
                for (int c = 0; c < 33; c++) {
                    mn = Math.min(mn, x.data().get(t, c));
                    mx = Math.max(mx, x.data().get(t, c));
                }
                double step = (mx - mn) / 255;
                for (int c = 0; c < 33; c++) assertEquals(x.data().get(t, c), q.data().get(t, c), step / 2 + 1e-6, "token " + t);
            }
            F.sum(F.mul(q, q)).backward();
            for (int i = 0; i < 99; i++) assertEquals(2 * q.data().getDouble(i), x.grad().getDouble(i), 1e-6, "STE gradient");
            x.zeroGrad();
            try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, 5, 33);
                 LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withRank(2).withActivationQuantization(true), rng, DType.F32);
                 Tensor w = l.fakeQuantWeight()) {
                Var y = l.forward(x);
                Var ref = F.linear(ActQuant8.quantize(x), new Var(w));
                assertArrayEquals(ref.data().toFloatArray(), y.data().toFloatArray(), 1e-5f);
            }
        }
    }

    /**
     * AdamW on A, B, s (β2 0.95, wd 0, linear decay, per the spec's defaults scaled down) lowers the output
     * error to the full-precision layer below the round-to-nearest start (STE steps are noisy, so the mean of the last 100 steps is compared).
     */
    @Test
    void trainingReducesErrorBelowRoundToNearest() {
        Rng rng = new Rng(49);
        try (Tensor w0 = Tensor.normal(DType.F32, rng, 0, 0.05, 16, 32);
             Tensor xs = Tensor.normal(DType.F32, rng, 0, 1, 64, 32);
             LrQatLinear l = new LrQatLinear(w0, null, LrQatConfig.defaults().withBits(3).withRank(4), rng, DType.F32);
             AdamW opt = new AdamW(List.of(new ParamGroup(List.of(l.loraA(), l.loraB()), 2e-3, 0),
                     new ParamGroup(List.of(l.scale()), 1e-4, 0)), 0.9, 0.95, 1e-8)) {
            LrScheduler schedule = new LrScheduler(Schedule.linear(0, 400), opt);   // the spec's linear decay
            double first = 0, last = 0;
            for (int step = 0; step < 400; step++) {
                try (MemoryScope _ = MemoryScope.open()) {
                    Var target = F.linear(new Var(xs), new Var(w0));
                    Var loss = F.mseLoss(l.forward(new Var(xs)), target);
                    if (step == 0) first = loss.item();
                    if (step >= 300) last += loss.item() / 100;                // mean of the last 100 steps
                    loss.backward();
                    opt.step();
                    opt.zeroGrad();
                    schedule.step();
                }
            }
            System.out.println("LR-QAT 3-bit [16, 32] training MSE: RTN start " + first + ", mean of steps 300-399 " + last);
            assertTrue(last < 0.98 * first, "LR-QAT loss " + first + " -> " + last);
        }
    }
}
