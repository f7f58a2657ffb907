package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.GemmKernel.L;
import static io.lowbit.tensor.cpu.GemmKernel.S;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The skinny SGEMM shapes that packing cannot pay for: matrix-vector products (m = 1 or n = 1) and
 * rank-1 updates (k = 1). Memory-bound, so they stream the matrix once in its storage order.
 *
 * <p>{@link #dot} is the project's one GEMV inner loop: SGEMM's m = 1 / n = 1 path, {@link Fused#gemv} and
 * the decoders ({@code models.llama.LlamaModel}, dense {@code LinearWeight}) all compute y[r] = W[r, :]·x
 * with it, one row at a time. Measured on this project's machine (one thread, best of 40): on a
 * 32000×288 LM head, which streams from memory, one row at a time with two accumulators moved the
 * matrix 2–3.5× faster than four rows sharing each load of x (985–1870 µs against 3530–3650 µs); on
 * L2-resident 288×288, 768×288 and 288×768 matrices the two were within ±12%.
 */
public final class Gemv {
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
        for (int r = lo; r < hi; r++) out[r - lo] = dot(mat, mOff + (long) r * ldm, x, 0, cols);
    }

    /**
     * Σ_i w[wOff + i]·x[xOff + i] for i &lt; n ({@code wOff} in floats): two vector accumulators, then the
     * fixed-order lane sum {@link #sum}, so the result has the same bits whether the code runs interpreted
     * or compiled and however the caller splits rows across threads.
     */
    public static float dot(MemorySegment w, long wOff, float[] x, int xOff, int n) {
        long base = wOff * Float.BYTES;
        FloatVector acc0 = FloatVector.zero(S), acc1 = FloatVector.zero(S);
        int c = 0;
        for (; c + 2 * L <= n; c += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(S, w, base + (long) c * Float.BYTES, NATIVE).fma(FloatVector.fromArray(S, x, xOff + c), acc0);
            acc1 = FloatVector.fromMemorySegment(S, w, base + (long) (c + L) * Float.BYTES, NATIVE).fma(FloatVector.fromArray(S, x, xOff + c + L), acc1);
        }
        if (c + L <= n) {
            acc0 = FloatVector.fromMemorySegment(S, w, base + (long) c * Float.BYTES, NATIVE).fma(FloatVector.fromArray(S, x, xOff + c), acc0);
            c += L;
        }
        float s = sum(acc0.add(acc1));
        for (; c < n; c++) s += w.get(F, base + (long) c * Float.BYTES) * x[xOff + c];
        return s;
    }

    /** ROTk moves lane i + k to lane i (wrapping): the steps of the pairwise lane sum, as constants. */
    private static final VectorShuffle<Float> ROT8 = VectorShuffle.iota(S, 8, 1, true), ROT4 = VectorShuffle.iota(S, 4, 1, true),
            ROT2 = VectorShuffle.iota(S, 2, 1, true), ROT1 = VectorShuffle.iota(S, 1, 1, true);

    /**
     * Lane sum by a fixed pairwise tree (halves, quarters, ...): {@code reduceLanes(ADD)} leaves the order
     * unspecified and its compiled and interpreted forms can differ in the last bit. The shuffles are
     * static final fields, not elements of an array (which C2 does not treat as constants): read from an
     * array they made this sum 20 % of a decoding step's samples.
     */
    static float sum(FloatVector v) {
        v = v.add(v.rearrange(ROT8));
        v = v.add(v.rearrange(ROT4));
        v = v.add(v.rearrange(ROT2));
        return v.add(v.rearrange(ROT1)).lane(0);
    }

    /** y = W·x for a contiguous F32 W [out, in] and x [in] (or [..., in] with in elements); returns [out]. */
    static Tensor forward(Tensor w, Tensor x) {
        Kernels.f32("gemv", "W", w);
        Kernels.f32("gemv", "x", x);
        if (w.dim() != 2 || x.numel() != w.size(1) || x.dim() == 0 || x.size(-1) != w.size(1))
            throw new IllegalArgumentException("gemv: W " + Arrays.toString(w.shape()) + " and x " + Arrays.toString(x.shape())
                    + " do not align (need W [out, in] and x [in])");
        int rows = w.size(0), in = w.size(1);
        Tensor y = Tensor.empty(DType.F32, rows);
        mv(false, rows, in, 1f, w.segment(), w.offset(), in, gather(x.segment(), x.offset(), 1, in), 0f, y.segment(), 0, 1);
        return y;
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
