package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.GemmKernel.L;
import static io.lowbit.tensor.cpu.GemmKernel.S;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The skinny SGEMM shapes that packing cannot pay for: matrix-vector products (m = 1 or n = 1) and
 * rank-1 updates (k = 1). Memory-bound, so they stream the matrix once in its storage order.
 */
final class Gemv {
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /** Below this many multiply-adds a skinny product runs on the caller alone. */
    private static final long PARALLEL_MIN = 1 << 16;

    private Gemv() {}

    /**
     * y = alpha · M·x + beta·y or alpha · Mᵀ·x + beta·y, where M is a rows×cols matrix stored with
     * contiguous rows (element (r, c) at mOff + r·ldm + c), x is dense and y[i] lives at yOff + i·incY.
     *
     * @param transposed false: y has {@code rows} entries (dot products of rows with x); true: y has
     *                   {@code cols} entries (sum of rows scaled by x)
     */
    static void mv(boolean transposed, int rows, int cols, float alpha, MemorySegment mat, long mOff, int ldm,
                   float[] x, float beta, MemorySegment y, long yOff, long incY) {
        int len = transposed ? cols : rows;
        long grain = Math.max(L, PARALLEL_MIN / Math.max(1, transposed ? rows : cols));
        Parallel.range(len, grain, (lo, hi) -> {
            float[] out = new float[(int) (hi - lo)];
            if (transposed) sumOfRows(mat, mOff, ldm, rows, (int) lo, (int) hi, x, out);
            else rowDots(mat, mOff, ldm, cols, (int) lo, (int) hi, x, out);
            for (int i = 0; i < out.length; i++) {
                long yi = yOff + (lo + i) * incY;
                float old = beta == 0f ? 0f : beta * y.getAtIndex(F, yi);
                y.setAtIndex(F, yi, alpha * out[i] + old);
            }
        });
    }

    /** out[r - lo] = Σ_c M[r, c]·x[c] for lo ≤ r &lt; hi. */
    private static void rowDots(MemorySegment mat, long mOff, int ldm, int cols, int lo, int hi, float[] x, float[] out) {
        for (int r = lo; r < hi; r++) {
            long row = (mOff + (long) r * ldm) * Float.BYTES;
            FloatVector acc0 = FloatVector.zero(S), acc1 = FloatVector.zero(S);
            int c = 0;
            for (; c + 2 * L <= cols; c += 2 * L) {
                acc0 = FloatVector.fromMemorySegment(S, mat, row + (long) c * Float.BYTES, NATIVE).fma(FloatVector.fromArray(S, x, c), acc0);
                acc1 = FloatVector.fromMemorySegment(S, mat, row + (long) (c + L) * Float.BYTES, NATIVE).fma(FloatVector.fromArray(S, x, c + L), acc1);
            }
            float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) s += mat.get(F, row + (long) c * Float.BYTES) * x[c];
            out[r - lo] = s;
        }
    }

    /** out[c - lo] = Σ_r x[r]·M[r, c] for lo ≤ c &lt; hi. */
    private static void sumOfRows(MemorySegment mat, long mOff, int ldm, int rows, int lo, int hi, float[] x, float[] out) {
        int n = hi - lo;
        for (int r = 0; r < rows; r++) {
            long row = (mOff + (long) r * ldm + lo) * Float.BYTES;
            FloatVector xr = FloatVector.broadcast(S, x[r]);
            int c = 0;
            for (; c + L <= n; c += L)
                FloatVector.fromMemorySegment(S, mat, row + (long) c * Float.BYTES, NATIVE).fma(xr, FloatVector.fromArray(S, out, c)).intoArray(out, c);
            for (; c < n; c++) out[c] += x[r] * mat.get(F, row + (long) c * Float.BYTES);
        }
    }

    /**
     * Rank-1 update C = alpha · u vᵀ + beta·C for an m×n C (row i at cOff + i·ldc), u and v dense.
     */
    static void outer(int m, int n, float alpha, float[] u, float[] v, float beta, MemorySegment c, long cOff, int ldc) {
        Parallel.range(m, Math.max(1, PARALLEL_MIN / Math.max(1, n)), (lo, hi) -> {
            for (long i = lo; i < hi; i++) {
                long row = (cOff + i * ldc) * Float.BYTES;
                FloatVector ai = FloatVector.broadcast(S, alpha * u[(int) i]);
                int j = 0;
                for (; j + L <= n; j += L) {
                    FloatVector r = FloatVector.fromArray(S, v, j).mul(ai);
                    long off = row + (long) j * Float.BYTES;
                    if (beta != 0f) r = FloatVector.fromMemorySegment(S, c, off, NATIVE).mul(beta).add(r);
                    r.intoMemorySegment(c, off, NATIVE);
                }
                for (; j < n; j++) {
                    long off = row + (long) j * Float.BYTES;
                    float old = beta == 0f ? 0f : beta * c.get(F, off);
                    c.set(F, off, alpha * u[(int) i] * v[j] + old);
                }
            }
        });
    }

    /** Copies n values at seg[off + i·inc] into a new array (the vector operand of a skinny product). */
    static float[] gather(MemorySegment seg, long off, long inc, int n) {
        float[] x = new float[n];
        if (inc == 1) MemorySegment.copy(seg, F, off * Float.BYTES, x, 0, n);
        else for (int i = 0; i < n; i++) x[i] = seg.getAtIndex(F, off + i * inc);
        return x;
    }
}
