package io.lowbit.quant.kernels;

import io.lowbit.tensor.cpu.Gemv;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;

/**
 * F32 GEMV y = W·x over a raw segment (the baseline the quantized GEMVs are timed against): the project's one
 * GEMV loop, {@link Gemv#dot}, row by row, rows split over the worker pool.
 */
public final class DenseGemv {
    private DenseGemv() {}

    /** y[r] = Σ_c W[r, c]·x[c] for a row-major F32 W [rows, cols] starting at float {@code wOff} of {@code w}. */
    public static void gemv(MemorySegment w, long wOff, int rows, int cols, float[] x, float[] y) {
        Parallel.range(rows, 64, (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++) y[r] = Gemv.dot(w, wOff + (long) r * cols, x, 0, cols);
        });
    }
}
