package io.lowbit.autograd.ops;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** Small helpers shared by backward implementations. */
final class Grads {
    private Grads() {}

    /**
     * Undoes broadcasting: {@code g} summed down to {@code shape}. Returns {@code g} itself when no sum is
     * needed (a pass-through the engine understands); never closes {@code g}.
     */
    static Tensor reduceTo(Tensor g, int[] shape) {
        return Arrays.equals(g.shape(), shape) ? g : sumTo(g, shape);
    }

    /**
     * g summed down to {@code shape}. Summing F32 rows into a trailing shape (a bias gradient: [.., n] to
     * [n]) runs here row by row in a fixed order, so it is reproducible bit for bit; other cases use the
     * tensor module's sumTo.
     */
    static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        long inner = 1;
        for (int d : shape) inner *= d;
        boolean trailing = shape.length <= gs.length
                && Arrays.equals(shape, Arrays.copyOfRange(gs, gs.length - shape.length, gs.length));
        if (g.dtype() != DType.F32 || !trailing || !g.isContiguous() || inner == 0) return g.sumTo(shape);
        Tensor out = Tensor.zeros(DType.F32, shape);
        long rows = g.numel() / inner;
        int n = (int) inner;
        MemorySegment src = g.segment(), dst = out.segment();
        long base = g.offset();
        Parallel.range(n, 1024, (lo, hi) -> { // columns split across threads; each column sums its rows in order
            for (long r = 0; r < rows; r++) Simd.axpy(1f, src, base + r * n + lo, dst, lo, (int) (hi - lo));
        });
        return out;
    }

    /** Like {@link #reduceTo} for a temporary {@code t} this backward made: closes t when it sums it. */
    static Tensor reduceOwned(Tensor t, int[] shape) {
        if (Arrays.equals(t.shape(), shape)) return t;
        Tensor r = sumTo(t, shape);
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
