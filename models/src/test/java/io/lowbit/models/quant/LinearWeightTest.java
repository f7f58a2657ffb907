package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Both linear kinds' {@code forward} against a plain double loop on odd shapes, for GEMV-sized and
 * chunk-sized row counts (the dense one is {@code llama.Linear}'s reference loop; {@code LlamaModel} runs
 * dense weights through its own kernels, checked in {@code QuantizedInferenceTest}).
 */
@ExtendWith(NoLeaks.class)
class LinearWeightTest {
    private static void check(LinearWeight lw, float[] w, int n, long seed) {
        int rows = lw.rows(), cols = lw.cols();
        try (Tensor x = Tensor.normal(DType.F32, new Rng(seed), 0, 1, n * cols)) {
            float[] xs = x.toFloatArray(), ys = new float[n * rows + 1];
            ys[n * rows] = 7f;
            lw.forward(xs, n, ys);
            for (int t = 0; t < n; t++)
                for (int r = 0; r < rows; r++) {
                    double s = 0, a = 0;
                    for (int c = 0; c < cols; c++) {
                        s += (double) w[r * cols + c] * xs[t * cols + c];
                        a += Math.abs((double) w[r * cols + c] * xs[t * cols + c]);
                    }
                    assertEquals(s, ys[t * rows + r], 1e-5 * (1 + a), lw + " [" + rows + ", " + cols + "] n=" + n + " at " + t + "," + r);
                }
            assertEquals(7f, ys[n * rows], "nothing written past y[n, rows]");
        }
    }

    @Test
    void denseAndPackedMatchAPlainLoopOnOddShapes() {
        long seed = 1;
        for (int rows : new int[] {1, 7, 33, 65, 129})
            for (int cols : new int[] {1, 31, 64, 127})
                for (int n : new int[] {1, 3, 5, 33}) {
                    try (Tensor w = Tensor.normal(DType.F32, new Rng(seed++), 0, 0.1, rows, cols).label(MemoryCategory.WEIGHTS)) {
                        float[] wf = w.toFloatArray();
                        try (LinearWeight d = new LinearWeight.Dense(w, false)) {
                            check(d, wf, n, seed);
                        }
                        try (LinearWeight p = new LinearWeight.Packed(new AffineQuantizer(AffineSpec.perGroup(4, false, 16)).quantize(w))) {
                            float[] deq;
                            try (Tensor dq = ((LinearWeight.Packed) p).q().dequantize()) {
                                deq = dq.toFloatArray();
                            }
                            check(p, deq, n, seed);
                        }
                        if ((long) rows * cols >= 8) {
                            try (LinearWeight p = new LinearWeight.Packed(new Nf4Quantizer(8, false, 256).quantize(w))) {
                                float[] deq;
                                try (Tensor dq = ((LinearWeight.Packed) p).q().dequantize()) {
                                    deq = dq.toFloatArray();
                                }
                                check(p, deq, n, seed);
                            }
                        }
                    }
                }
    }
}
