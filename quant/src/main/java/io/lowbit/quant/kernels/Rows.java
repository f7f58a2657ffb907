package io.lowbit.quant.kernels;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/** Small helpers to get weights and activations into dense row-major F32 form. */
public final class Rows {
    private Rows() {}

    /** Throws unless {@code t} is a 2-D floating-point tensor with no empty dimension. */
    public static void check2d(Tensor t, String what) {
        if (t.dim() != 2) throw new IllegalArgumentException(what + " must be 2-D [out, in], got shape " + Arrays.toString(t.shape()));
        if (!t.dtype().floating) throw new IllegalArgumentException(what + " must be floating point, got " + t.dtype());
        if (t.size(0) < 1 || t.size(1) < 1) throw new IllegalArgumentException(what + " has an empty dimension: " + Arrays.toString(t.shape()));
    }

    /**
     * {@code t} as a contiguous F32 tensor: {@code t} itself when it already is one, else a new tensor the
     * caller must close (check {@code result != t}).
     */
    public static Tensor denseF32(Tensor t) {
        if (!t.dtype().floating) throw new IllegalArgumentException("expected a floating-point tensor, got " + t.dtype());
        Tensor c = t.contiguous();
        if (c.dtype() == DType.F32) return c;
        Tensor f = c.to(DType.F32);
        if (c != t) c.close();
        return f;
    }
}
