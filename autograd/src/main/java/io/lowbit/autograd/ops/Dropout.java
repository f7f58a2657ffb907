package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Inverted dropout (Srivastava et al. 2014): keep element i when u_i ≥ p, scaled by 1/(1 − p), where
 * u_i is the i-th draw of a seeded {@link Rng}. Nothing is saved: backward regenerates the same mask
 * from the stream position forward used, so ∂/∂x = g·mask/(1 − p).
 */
public final class Dropout extends Function {
    private final double p;
    private final Rng rng;
    private long start;

    Dropout(double p, Rng rng) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        this.p = p;
        this.rng = rng;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        start = rng.advance(in[0].numel());
        return masked(in[0]);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {masked(g)};
    }

    private Tensor masked(Tensor x) {
        return masked(x, p, rng, start);
    }

    /**
     * A new tensor x·mask/(1 − p) with mask_i = [u_{start+i} ≥ p] from {@code rng}'s stream (stream not
     * advanced): the mask this op applies in forward and backward, for fused ops that regenerate it.
     */
    public static Tensor masked(Tensor x, double p, Rng rng, long start) {
        Tensor y = x.copy();
        double keepScale = 1 / (1 - p);
        if (y.dtype() == DType.F32 && y.isContiguous()) { // the same arithmetic without per-element dtype dispatch
            MemorySegment s = y.segment();
            long o = y.byteOffset() / Float.BYTES;
            for (long i = 0, n = y.numel(); i < n; i++) {
                float v = s.getAtIndex(ValueLayout.JAVA_FLOAT, o + i);
                s.setAtIndex(ValueLayout.JAVA_FLOAT, o + i, rng.uniformAt(start + i) >= p ? (float) (v * keepScale) : 0f);
            }
            return y;
        }
        for (long i = 0, n = y.numel(); i < n; i++)
            y.setDouble(i, rng.uniformAt(start + i) >= p ? y.getDouble(i) * keepScale : 0);
        return y;
    }
}
