package io.lowbit.quant.gptq;

import io.lowbit.quant.kernels.Rows;
import io.lowbit.quant.linalg.DenseLinalg;
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
        double[] xd = new double[n * in], negXt = new double[in * n]; // X and −Xᵀ
        for (int k = 0; k < n; k++)
            for (int i = 0; i < in; i++) {
                double v = rows[k * in + i];
                xd[k * in + i] = v;
                negXt[i * n + k] = -v;
            }
        // S = XᵀX = 0 − (−Xᵀ)·X, by blocks of 64 rows of S and only columns j ≥ the block's first row
        // (the upper triangle; mirrored below), then H = keep·H + f·S
        int blk = 64, nb = (in + blk - 1) / blk;
        Parallel.range(nb, 1, (lo, hi) -> {
            for (int q = (int) lo; q < hi; q++) {
                int bi = q % 2 == 0 ? q / 2 : nb - 1 - q / 2; // zig-zag: the wide early blocks spread over chunks
                int i0 = bi * blk, i1 = Math.min(in, i0 + blk), w = in - i0;
                double[] acc = new double[(i1 - i0) * w];
                DenseLinalg.subtractProduct(acc, 0, w, negXt, i0 * n, n, xd, i0, in, i1 - i0, n, w);
                for (int i = i0; i < i1; i++)
                    for (int j = i; j < in; j++) h[i * in + j] = h[i * in + j] * keep + f * acc[(i - i0) * w + (j - i0)];
            }
        });
        for (int i = 0; i < in; i++)
            for (int j = 0; j < i; j++) h[i * in + j] = h[j * in + i];
        count = total;
    }

    /** A copy of H, row-major in×in. */
    public double[] matrix() {
        return h.clone();
    }
}
