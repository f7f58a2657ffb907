package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * y = W·x for a row-major W [out, in] and x [in] (the decode-time matrix-vector product). Memory bound:
 * four rows share each load of x, rows are split across the pool.
 */
final class MatVec {
    private MatVec() {}

    static Tensor forward(Tensor w, Tensor x) {
        Kernels.f32("gemv", "W", w);
        Kernels.f32("gemv", "x", x);
        if (w.dim() != 2 || x.numel() != w.size(1) || x.dim() == 0 || x.size(-1) != w.size(1))
            throw new IllegalArgumentException("gemv: W " + Arrays.toString(w.shape()) + " and x " + Arrays.toString(x.shape())
                    + " do not align (need W [out, in] and x [in])");
        int rows = w.size(0), in = w.size(1);
        Tensor y = Tensor.empty(DType.F32, rows);
        run(w.segment(), w.byteOffset(), in, rows, in, x.segment(), x.byteOffset(), y.segment(), 0);
        return y;
    }

    /**
     * y[r] = Σ_i W[r, i]·x[i] for r &lt; rows on raw memory: W rows start ldw floats apart at byte offset wb,
     * x is contiguous at byte offset xb, y is written contiguously at byte offset yb.
     */
    static void run(MemorySegment sw, long wb, long ldw, int rows, int in, MemorySegment sx, long xb, MemorySegment sy, long yb) {
        long blocks = (rows + 3) / 4;
        Parallel.range(blocks, Math.max(1, (1 << 15) / Math.max(1, 4L * in)), (lo, hi) -> {
            for (long blk = lo; blk < hi; blk++) {
                int r0 = (int) (blk * 4);
                if (r0 + 4 <= rows) rows4(sw, wb + 4L * r0 * ldw, 4L * ldw, in, sx, xb, sy, yb + 4L * r0);
                else for (int r = r0; r < rows; r++) sy.set(FL, yb + 4L * r, Kernels.dot(sw, wb + 4L * r * ldw, sx, xb, in));
            }
        });
    }

    // four dot products against the same x, two accumulators per row (eight independent FMA chains)
    private static void rows4(MemorySegment sw, long wb, long rs, int in, MemorySegment sx, long xb, MemorySegment sy, long yb) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int step = F.length();
        int j = 0;
        for (int bound = in - 2 * step; j <= bound; j += 2 * step) {
            FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, Elementwise.LE);
            FloatVector u = FloatVector.fromMemorySegment(F, sx, xb + 4L * (j + step), Elementwise.LE);
            long o = wb + 4L * j, o2 = o + 4L * step;
            a0 = FloatVector.fromMemorySegment(F, sw, o, Elementwise.LE).fma(v, a0);
            b0 = FloatVector.fromMemorySegment(F, sw, o2, Elementwise.LE).fma(u, b0);
            a1 = FloatVector.fromMemorySegment(F, sw, o + rs, Elementwise.LE).fma(v, a1);
            b1 = FloatVector.fromMemorySegment(F, sw, o2 + rs, Elementwise.LE).fma(u, b1);
            a2 = FloatVector.fromMemorySegment(F, sw, o + 2 * rs, Elementwise.LE).fma(v, a2);
            b2 = FloatVector.fromMemorySegment(F, sw, o2 + 2 * rs, Elementwise.LE).fma(u, b2);
            a3 = FloatVector.fromMemorySegment(F, sw, o + 3 * rs, Elementwise.LE).fma(v, a3);
            b3 = FloatVector.fromMemorySegment(F, sw, o2 + 3 * rs, Elementwise.LE).fma(u, b3);
        }
        for (int bound = in - step; j <= bound; j += step) {
            FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, Elementwise.LE);
            long o = wb + 4L * j;
            a0 = FloatVector.fromMemorySegment(F, sw, o, Elementwise.LE).fma(v, a0);
            a1 = FloatVector.fromMemorySegment(F, sw, o + rs, Elementwise.LE).fma(v, a1);
            a2 = FloatVector.fromMemorySegment(F, sw, o + 2 * rs, Elementwise.LE).fma(v, a2);
            a3 = FloatVector.fromMemorySegment(F, sw, o + 3 * rs, Elementwise.LE).fma(v, a3);
        }
        a0 = a0.add(b0);
        a1 = a1.add(b1);
        a2 = a2.add(b2);
        a3 = a3.add(b3);
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; j < in; j++) {
            float v = sx.get(FL, xb + 4L * j);
            long o = wb + 4L * j;
            s0 = Math.fma(sw.get(FL, o), v, s0);
            s1 = Math.fma(sw.get(FL, o + rs), v, s1);
            s2 = Math.fma(sw.get(FL, o + 2 * rs), v, s2);
            s3 = Math.fma(sw.get(FL, o + 3 * rs), v, s3);
        }
        sy.set(FL, yb, s0);
        sy.set(FL, yb + 4, s1);
        sy.set(FL, yb + 8, s2);
        sy.set(FL, yb + 12, s3);
    }
}
