package io.lowbit.autograd.ops;

import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/** Small helpers shared by backward implementations. */
final class Grads {
    private Grads() {}

    /**
     * Undoes broadcasting: {@code g} summed down to {@code shape}. Returns {@code g} itself when no sum is
     * needed (a pass-through the engine understands); never closes {@code g}.
     */
    static Tensor reduceTo(Tensor g, int[] shape) {
        return Arrays.equals(g.shape(), shape) ? g : g.sumTo(shape);
    }

    /** Like {@link #reduceTo} for a temporary {@code t} this backward made: closes t when it sums it. */
    static Tensor reduceOwned(Tensor t, int[] shape) {
        if (Arrays.equals(t.shape(), shape)) return t;
        Tensor r = t.sumTo(shape);
        t.close();
        return r;
    }

    /** A new contiguous tensor of {@code shape} holding {@code g} broadcast to it. */
    static Tensor expandCopy(Tensor g, int[] shape) {
        Tensor out = Tensor.empty(g.dtype(), shape);
        out.copyFrom(g);
        return out;
    }
}
