package io.lowbit.quant;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Shared test data and plain reference loops. */
final class Fixtures {
    private Fixtures() {}

    /** Odd sizes every kernel is checked on. */
    static final int[] ODD = {1, 7, 31, 33, 63, 65, 127, 129};

    /** A Gaussian F32 weight [rows, cols] (std 0.05) with a few larger entries, owned by the caller. */
    static Tensor weight(long seed, int rows, int cols) {
        Rng rng = new Rng(seed);
        Tensor w = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, rows, cols);
        for (long i = 0; i < (long) rows * cols; i++) {
            double v = 0.05 * rng.nextGaussian();
            if (rng.nextInt(50) == 0) v *= 4;
            w.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
        }
        return w;
    }

    static float[] gaussian(long seed, int n) {
        Rng rng = new Rng(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rng.nextGaussian();
        return x;
    }

    /** Dense values of a QuantizedTensor, via its own dequantize(). */
    static float[] dense(QuantizedTensor q) {
        try (Tensor d = q.dequantize()) {
            return d.toFloatArray();
        }
    }

    /** y = W·x in double with a plain loop. */
    static double[] matvec(float[] w, int rows, int cols, float[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += (double) w[r * cols + c] * x[c];
            y[r] = s;
        }
        return y;
    }

    /** Σ_c |W[r,c]·x[c]| per row: the scale of float rounding in a dot product. */
    static double[] absMatvec(float[] w, int rows, int cols, float[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += Math.abs((double) w[r * cols + c] * x[c]);
            y[r] = s;
        }
        return y;
    }

    static byte[] bytes(Tensor t) {
        Tensor c = t.contiguous();
        byte[] b = c.segment().asSlice(c.byteOffset(), c.numel() * c.dtype().bytes).toArray(ValueLayout.JAVA_BYTE);
        if (c != t) c.close();
        return b;
    }

    static Tensor fromBytes(byte[] b, DType dtype, int... shape) {
        Tensor t = Tensor.empty(dtype, MemoryCategory.QUANTIZED, shape);
        MemorySegment.copy(b, 0, t.segment(), ValueLayout.JAVA_BYTE, 0, b.length);
        return t;
    }
}
