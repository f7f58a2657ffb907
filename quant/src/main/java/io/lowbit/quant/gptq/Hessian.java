package io.lowbit.quant.gptq;

import io.lowbit.quant.kernels.Rows;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Running H = (2/N)·Σ x·xᵀ over all calibration rows x seen so far (GPTQ spec, step 1), in double.
 * Batches [..., in] may arrive one at a time: with N old rows and n new ones,
 * H ← H·N/(N + n) + (2/(N + n))·XᵀX.
 */
public final class Hessian {
    private final int in;
    private final double[] h;
    private long count;

    /** An empty accumulator for inputs of width {@code in}. */
    public Hessian(int in) {
        if (in < 1) throw new IllegalArgumentException("Hessian width must be >= 1, got " + in);
        this.in = in;
        this.h = new double[Math.multiplyExact(in, in)];
    }

    /** Input width. */
    public int size() {
        return in;
    }

    /** Calibration rows seen (N). */
    public long samples() {
        return count;
    }

    /** Adds a batch of inputs [..., in] (any floating dtype). */
    public void add(Tensor x) {
        if (x.dim() < 1 || x.size(-1) != in)
            throw new IllegalArgumentException("calibration batch " + Arrays.toString(x.shape()) + " does not end in the layer's input width " + in);
        Tensor d = Rows.denseF32(x);
        try {
            int n = Math.toIntExact(d.numel() / in);
            if (n == 0) return;
            float[] rows = new float[n * in];
            MemorySegment.copy(d.segment(), ValueLayout.JAVA_FLOAT, d.byteOffset(), rows, 0, rows.length);
            for (int i = 0; i < rows.length; i++)
                if (!Float.isFinite(rows[i])) throw new IllegalArgumentException("non-finite calibration input " + rows[i] + " at row " + i / in + ", column " + i % in);
            addRows(rows, n);
        } finally {
            if (d != x) d.close();
        }
    }

    /** Adds {@code n} rows of width {@code in} from a row-major array. */
    public void addRows(float[] rows, int n) {
        if (rows.length < (long) n * in) throw new IllegalArgumentException(n + " rows of width " + in + " need " + (long) n * in + " values, got " + rows.length);
        long total = count + n;
        double keep = (double) count / total, f = 2.0 / total;
        Parallel.range(in, 16, (lo, hi) -> {
            double[] acc = new double[in];
            for (int i = (int) lo; i < hi; i++) {
                Arrays.fill(acc, 0);
                for (int k = 0; k < n; k++) {
                    double xi = rows[k * in + i];
                    if (xi == 0) continue;
                    int base = k * in;
                    for (int j = 0; j < in; j++) acc[j] += xi * rows[base + j];
                }
                int row = i * in;
                for (int j = 0; j < in; j++) h[row + j] = h[row + j] * keep + f * acc[j];
            }
        });
        count = total;
    }

    /** A copy of H, row-major in×in. */
    public double[] matrix() {
        return h.clone();
    }
}
