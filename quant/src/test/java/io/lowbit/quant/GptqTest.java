package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.gptq.Hessian;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class GptqTest {
    /** Correlated inputs [n, in]: x = A·z + 0.1·noise with a rank-8 mixing A and per-column scales. */
    static float[] correlatedInputs(long seed, int n, int in) {
        Rng rng = new Rng(seed);
        int k = 8;
        double[] a = new double[in * k];
        for (int i = 0; i < a.length; i++) a[i] = rng.nextGaussian();
        float[] x = new float[n * in];
        double[] z = new double[k];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < k; j++) z[j] = rng.nextGaussian();
            for (int i = 0; i < in; i++) {
                double v = 0.1 * rng.nextGaussian();
                for (int j = 0; j < k; j++) v += a[i * k + j] * z[j];
                x[t * in + i] = (float) (v * (1 + i % 5));
            }
        }
        return x;
    }

    /** ‖X·Wᵀ − X·Ŵᵀ‖_F. */
    static double outputError(float[] x, int n, float[] w, float[] wq, int out, int in) {
        double s = 0;
        for (int t = 0; t < n; t++)
            for (int r = 0; r < out; r++) {
                double d = 0;
                for (int c = 0; c < in; c++) d += (double) x[t * in + c] * (w[r * in + c] - wq[r * in + c]);
                s += d * d;
            }
        return Math.sqrt(s);
    }

    @Test
    void gptqBeatsRtnOnCorrelatedInputs() {
        int out = 24, in = 96, n = 384;
        float[] x = correlatedInputs(1, n, in);
        try (Tensor wt = Fixtures.weight(2, out, in); Tensor xt = Tensor.of(x, n, in)) {
            float[] w = wt.toFloatArray();
            for (int bits : new int[] {4, 3, 2}) {
                for (int g : new int[] {-1, 32}) {
                    for (int variant = 0; variant < 3; variant++) {
                        boolean act = variant == 1, sym = variant == 2;
                        Gptq.Config cfg = Gptq.Config.defaults(bits).withGroupSize(g).withActOrder(act).withSymmetric(sym);
                        Gptq gptq = new Gptq(cfg);
                        gptq.observe(xt.narrow(0, 0, 100)); // calibration batches arrive incrementally
                        gptq.observe(xt.narrow(0, 100, n - 100));
                        try (AffineQuantizedTensor q = gptq.quantize(wt);
                             AffineQuantizedTensor rtn = new AffineQuantizer(cfg.spec()).quantize(wt)) {
                            double eg = outputError(x, n, w, Fixtures.dense(q), out, in), er = outputError(x, n, w, Fixtures.dense(rtn), out, in);
                            String what = bits + "-bit g" + g + (act ? " act-order" : "") + (sym ? " sym" : "");
                            assertTrue(eg < 0.9 * er, what + ": GPTQ output error " + eg + " not below RTN " + er);
                            assertEquals(act && g > 0, q.hasGroupIndex(), what + " g_idx");
                        }
                    }
                }
            }
        }
    }

    @Test
    void actOrderGroupIndexFollowsDescendingHessianDiagonal() {
        int out = 9, in = 70, g = 16, n = 200;
        float[] x = correlatedInputs(3, n, in);
        Hessian h = new Hessian(in);
        h.addRows(x, n);
        double[] hm = h.matrix();
        Integer[] order = IntStream.range(0, in).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -hm[i * in + i]));
        try (Tensor wt = Fixtures.weight(4, out, in);
             AffineQuantizedTensor q = Gptq.quantize(wt, hm, Gptq.Config.defaults(4).withGroupSize(g).withActOrder(true))) {
            int[] gIdx = q.components().get("g_idx").toIntArray();
            for (int k = 0; k < in; k++) assertEquals(k / g, gIdx[order[k]], "g_idx of the column ranked " + k);
            assertEquals((in + g - 1) / g, q.numGroups());
            // dequantize() is s[r, g_idx[c]]·(q[r, c] − z[r, g_idx[c]]) from the raw components
            float[] d = Fixtures.dense(q);
            for (int r = 0; r < out; r++)
                for (int c = 0; c < in; c++)
                    assertEquals(q.scale(r, gIdx[c]) * (float) (q.code(r, c) - q.zero(r, gIdx[c])), d[r * in + c], 0f);
            // and the fused GEMV agrees with it
            float[] v = Fixtures.gaussian(5, in), y = new float[out];
            q.gemv(v, y);
            double[] ref = Fixtures.matvec(d, out, in, v), mag = Fixtures.absMatvec(d, out, in, v);
            for (int r = 0; r < out; r++) assertEquals(ref[r], y[r], 1e-5 * mag[r]);
        }
    }

    @Test
    void diagonalHessianMakesGptqEqualRtn() {
        int out = 11, in = 40;
        double[] h = new double[in * in];
        for (int i = 0; i < in; i++) h[i * in + i] = 1 + i % 3;
        try (Tensor wt = Fixtures.weight(6, out, in)) {
            for (int bits : new int[] {2, 3, 4, 8}) {
                Gptq.Config cfg = Gptq.Config.defaults(bits);
                try (AffineQuantizedTensor q = Gptq.quantize(wt, h, cfg); AffineQuantizedTensor r = new AffineQuantizer(cfg.spec()).quantize(wt)) {
                    assertArrayEquals(Fixtures.bytes(r.components().get("qweight")), Fixtures.bytes(q.components().get("qweight")), bits + "-bit codes");
                    assertArrayEquals(Fixtures.dense(r), Fixtures.dense(q), bits + "-bit values");
                }
            }
        }
    }

    @Test
    void lazyBlocksGiveTheSameResultAsColumnByColumnUpdates() {
        int out = 6, in = 300, n = 400;
        Hessian h = new Hessian(in);
        h.addRows(correlatedInputs(7, n, in), n);
        try (Tensor wt = Fixtures.weight(8, out, in)) {
            for (Gptq.Config base : new Gptq.Config[] {Gptq.Config.defaults(3), Gptq.Config.defaults(4).withGroupSize(32).withActOrder(true)}) {
                try (AffineQuantizedTensor lazy = Gptq.quantize(wt, h.matrix(), base);
                     AffineQuantizedTensor eager = Gptq.quantize(wt, h.matrix(), base.withBlockSize(1));
                     AffineQuantizedTensor odd = Gptq.quantize(wt, h.matrix(), base.withBlockSize(37))) {
                    float[] a = Fixtures.dense(lazy), b = Fixtures.dense(eager), c = Fixtures.dense(odd);
                    int differ = 0;
                    for (int i = 0; i < a.length; i++) if (a[i] != b[i] || a[i] != c[i]) differ++;
                    assertTrue(differ <= 2, base + ": " + differ + " of " + a.length + " weights differ between block sizes 128, 1 and 37");
                }
            }
        }
    }

    @Test
    void hessianAccumulatesIncrementallyAndHandlesDeadInputs() {
        int in = 5, n = 7;
        float[] x = correlatedInputs(9, n, in);
        for (int t = 0; t < n; t++) x[t * in + 2] = 0; // input 2 is dead
        Hessian once = new Hessian(in), twice = new Hessian(in);
        once.addRows(x, n);
        twice.addRows(Arrays.copyOfRange(x, 0, 3 * in), 3);
        twice.addRows(Arrays.copyOfRange(x, 3 * in, n * in), n - 3);
        double[] a = once.matrix(), b = twice.matrix();
        for (int i = 0; i < in; i++)
            for (int j = 0; j < in; j++) {
                double ref = 0;
                for (int t = 0; t < n; t++) ref += 2.0 * x[t * in + i] * x[t * in + j] / n; // H = (2/N)·Σ x·xᵀ
                assertEquals(ref, a[i * in + j], 1e-9 * (1 + Math.abs(ref)));
                assertEquals(ref, b[i * in + j], 1e-9 * (1 + Math.abs(ref)));
            }
        assertEquals(n, twice.samples());
        try (Tensor wt = Fixtures.weight(10, 3, in); AffineQuantizedTensor q = Gptq.quantize(wt, a, Gptq.Config.defaults(4))) {
            float[] d = Fixtures.dense(q);
            for (int r = 0; r < 3; r++) {
                assertEquals(0f, d[r * in + 2], 0f, "dead column is zeroed");
                for (int c = 0; c < in; c++) assertTrue(Float.isFinite(d[r * in + c]));
            }
        }
    }

    @Test
    void misuseIsRejected() {
        try (Tensor wt = Fixtures.weight(11, 3, 8); Tensor x = Tensor.of(new float[18], 2, 9)) {
            Gptq g = new Gptq(Gptq.Config.defaults(4));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> g.quantize(wt));
            assertTrue(e.getMessage().contains("observe"), e.getMessage());
            g.observe(x);
            assertThrows(IllegalArgumentException.class, () -> g.quantize(wt)); // Hessian 9×9 vs weight width 8
            assertThrows(IllegalArgumentException.class, () -> g.observe(wt));
        }
        assertThrows(IllegalArgumentException.class, () -> Gptq.Config.defaults(4).withGroupSize(0));
        // rank-1 Hessian without dampening cannot be factored: the error says what to do
        double[] h = new double[16];
        for (int i = 0; i < 16; i++) h[i] = 1;
        try (Tensor w = Fixtures.weight(12, 2, 4)) {
            ArithmeticException e = assertThrows(ArithmeticException.class,
                    () -> Gptq.quantize(w, h, new Gptq.Config(4, false, -1, false, 0.0, 128)));
            assertTrue(e.getMessage().contains("percdamp"), e.getMessage());
            try (AffineQuantizedTensor q = Gptq.quantize(w, h, Gptq.Config.defaults(4))) { // λ = 0.01 makes it definite
                for (float v : Fixtures.dense(q)) assertTrue(Float.isFinite(v));
            }
        }
    }
}
