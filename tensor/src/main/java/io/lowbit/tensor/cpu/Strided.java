package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Tensor;

/**
 * Iteration over same-shaped strided operands, row by row. Dimensions that are laid out contiguously in
 * every operand are merged first, so a contiguous tensor of any rank is one long row and a row-broadcast
 * is a loop of vector-friendly rows. Used at the edge of kernels: the inner loop sees a base element
 * index and an element stride per operand, and long rows are cut into pieces so one contiguous tensor
 * still spreads across the pool.
 */
final class Strided {
    final int[] shape; // coalesced
    final long[][] strides; // [operand][dim], coalesced
    final long[] offsets;
    final int rowLength;
    final long rows;

    Strided(Tensor... ts) {
        int[] s = ts[0].shape();
        int r = s.length;
        long[][] st = new long[ts.length][];
        offsets = new long[ts.length];
        for (int i = 0; i < ts.length; i++) {
            st[i] = ts[i].strides();
            offsets[i] = ts[i].offset();
        }
        // drop size-1 dims, merge dims contiguous in every operand
        int[] cs = new int[Math.max(r, 1)];
        long[][] cst = new long[ts.length][Math.max(r, 1)];
        int n = 0;
        for (int d = 0; d < r; d++) {
            if (s[d] == 1) continue;
            if (n > 0) {
                boolean merge = true;
                for (int i = 0; i < ts.length; i++) if (cst[i][n - 1] != st[i][d] * s[d]) { merge = false; break; }
                if (merge) {
                    cs[n - 1] *= s[d];
                    for (int i = 0; i < ts.length; i++) cst[i][n - 1] = st[i][d];
                    continue;
                }
            }
            cs[n] = s[d];
            for (int i = 0; i < ts.length; i++) cst[i][n] = st[i][d];
            n++;
        }
        if (n == 0) { // scalar-like
            cs[0] = 1;
            n = 1;
            for (int i = 0; i < ts.length; i++) cst[i][0] = 1;
        }
        shape = java.util.Arrays.copyOf(cs, n);
        strides = new long[ts.length][];
        for (int i = 0; i < ts.length; i++) strides[i] = java.util.Arrays.copyOf(cst[i], n);
        rowLength = shape[n - 1];
        long rw = 1;
        for (int d = 0; d < n - 1; d++) rw *= shape[d];
        rows = hasZero(s) ? 0 : rw;
    }

    private static boolean hasZero(int[] s) {
        for (int d : s) if (d == 0) return true;
        return false;
    }

    /** Element stride of operand {@code i} along the row. */
    long innerStride(int i) {
        return strides[i][shape.length - 1];
    }

    /** Called once per piece of a row with each operand's base element index and the piece's length. */
    interface SegmentBody {
        void run(long[] base, int length);
    }

    /** Longest row piece one task handles: long rows (a contiguous tensor is one row) split into these. */
    static final int SEGMENT = 1 << 14;

    /**
     * Runs body over every row, each cut into pieces of at most {@link #SEGMENT} elements, in parallel
     * when the work is large enough; so even a single long row is split across the pool.
     */
    void forAllSegments(SegmentBody body) {
        int segs = Math.max(1, (rowLength + SEGMENT - 1) / SEGMENT);
        long tasks = rows * segs;
        long grain = Math.max(1, 32768 / Math.max(1, Math.min(rowLength, SEGMENT)));
        int nd = shape.length, ops = offsets.length;
        Parallel.range(tasks, grain, (lo, hi) -> {
            long[] base = new long[ops];
            for (long task = lo; task < hi; task++) {
                long row = task / segs;
                int seg = (int) (task - row * segs);
                long rem = row;
                for (int i = 0; i < ops; i++) base[i] = offsets[i];
                for (int d = nd - 2; d >= 0; d--) {
                    long q = rem / shape[d];
                    long idx = rem - q * shape[d];
                    rem = q;
                    for (int i = 0; i < ops; i++) base[i] += idx * strides[i][d];
                }
                long start = (long) seg * SEGMENT;
                for (int i = 0; i < ops; i++) base[i] += start * strides[i][nd - 1];
                body.run(base, (int) Math.min(SEGMENT, rowLength - start));
            }
        });
    }
}
