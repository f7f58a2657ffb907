package io.lowbit.tensor.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** {@link Gemv#dot}, the one GEMV inner loop, against a plain double loop on odd lengths and offsets. */
class GemvTest {
    static final int[] SIZES = {1, 7, 31, 33, 63, 65, 127, 129, 1000};

    @Test
    void dotMatchesAPlainLoop() {
        for (int n : SIZES) {
            Rng r = new Rng(n);
            float[] w = new float[n + 5], x = new float[n + 3];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            double ref = 0;
            for (int i = 0; i < n; i++) ref += (double) w[i + 5] * x[i + 3];
            try (Tensor t = Tensor.of(w, w.length)) {
                float got = Gemv.dot(t.segment(), 5, x, 3, n);
                assertEquals(ref, got, 1e-5 * Math.sqrt(n), "n=" + n);
                assertEquals(got, Gemv.dot(t.segment(), 5, x, 3, n), 0f, "same bits on a second call, n=" + n);
            }
        }
    }

    @Test
    void dot4GivesEachRowDotsBits() {
        // dot4 packs four rows' lane trees into shared vectors: every row must still equal dot exactly
        for (int n : SIZES) {
            Rng r = new Rng(100 + n);
            int ld = n + 3;
            float[] w = new float[7 + 4 * ld], x = new float[n + 2];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            try (Tensor t = Tensor.of(w, w.length)) {
                float[] out = new float[1 + 4 * 3];
                Gemv.dot4(t.segment(), 7, ld, x, 2, n, out, 1, 3);
                for (int q = 0; q < 4; q++)
                    assertEquals(Float.floatToIntBits(Gemv.dot(t.segment(), 7 + (long) q * ld, x, 2, n)), Float.floatToIntBits(out[1 + 3 * q]),
                            "n=" + n + " row " + q);
            }
        }
    }

    @Test
    void gemvRowsDoNotDependOnTheThreadSplit() {
        // a row's value comes from dot alone: 1 and 2 threads give the same bits
        int threads = Parallel.threads();
        try (Tensor w = Tensor.normal(DType.F32, new Rng(3), 0, 1, 1000, 129); Tensor x = Tensor.normal(DType.F32, new Rng(4), 0, 1, 129)) {
            Parallel.setThreads(1);
            float[] one;
            try (Tensor y = Fused.gemv(w, x)) { one = y.toFloatArray(); }
            Parallel.setThreads(2);
            try (Tensor y = Fused.gemv(w, x)) { assertArrayEquals(one, y.toFloatArray()); }
        } finally {
            Parallel.setThreads(threads);
        }
    }
}
