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
 * with it, one row at a time; {@link #dot4} gives the same bits four rows at a time for small,
 * cache-resident matrices, where the per-row lane sum is what costs. Measured on this project's machine (one thread, best of 40): on a
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
        float s = Lanes.sum(acc0.add(acc1));
        for (; c < n; c++) s += w.get(F, base + (long) c * Float.BYTES) * x[xOff + c];
        return s;
    }

    /**
     * Four rows at once: out[outOff + q·outStride] = {@link #dot}(w, wOff + q·ld, x, xOff, n) for q &lt; 4,
     * bit for bit (each row keeps dot's two accumulators, its pairwise lane tree and its scalar tail), but
     * the rows share every load of x and their four lane trees run packed in the same vectors: 8 permutes
     * and 5 adds instead of 16 and 16. For short, cache-resident rows (the small models' matrices), where
     * the lane sum costs as much as the products; long rows stream faster one at a time (see the class
     * comment).
     */
    public static void dot4(MemorySegment w, long wOff, long ld, float[] x, int xOff, int n, float[] out, int outOff, int outStride) {
        if (L != 16) { // the packed trees below are laid out for 16 lanes
            for (int q = 0; q < 4; q++) out[outOff + q * outStride] = dot(w, wOff + q * ld, x, xOff, n);
            return;
        }
        long b0 = wOff * Float.BYTES, b1 = b0 + ld * Float.BYTES, b2 = b1 + ld * Float.BYTES, b3 = b2 + ld * Float.BYTES;
        FloatVector z = FloatVector.zero(S);
        FloatVector a0 = z, a1 = z, b0a = z, b1a = z, c0 = z, c1 = z, d0 = z, d1 = z;
        int c = 0;
        for (; c + 2 * L <= n; c += 2 * L) {
            long o = (long) c * Float.BYTES, o2 = o + (long) L * Float.BYTES;
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + c), x1 = FloatVector.fromArray(S, x, xOff + c + L);
            a0 = FloatVector.fromMemorySegment(S, w, b0 + o, NATIVE).fma(x0, a0);
            a1 = FloatVector.fromMemorySegment(S, w, b0 + o2, NATIVE).fma(x1, a1);
            b0a = FloatVector.fromMemorySegment(S, w, b1 + o, NATIVE).fma(x0, b0a);
            b1a = FloatVector.fromMemorySegment(S, w, b1 + o2, NATIVE).fma(x1, b1a);
            c0 = FloatVector.fromMemorySegment(S, w, b2 + o, NATIVE).fma(x0, c0);
            c1 = FloatVector.fromMemorySegment(S, w, b2 + o2, NATIVE).fma(x1, c1);
            d0 = FloatVector.fromMemorySegment(S, w, b3 + o, NATIVE).fma(x0, d0);
            d1 = FloatVector.fromMemorySegment(S, w, b3 + o2, NATIVE).fma(x1, d1);
        }
        if (c + L <= n) {
            long o = (long) c * Float.BYTES;
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + c);
            a0 = FloatVector.fromMemorySegment(S, w, b0 + o, NATIVE).fma(x0, a0);
            b0a = FloatVector.fromMemorySegment(S, w, b1 + o, NATIVE).fma(x0, b0a);
            c0 = FloatVector.fromMemorySegment(S, w, b2 + o, NATIVE).fma(x0, c0);
            d0 = FloatVector.fromMemorySegment(S, w, b3 + o, NATIVE).fma(x0, d0);
            c += L;
        }
        FloatVector va = a0.add(a1), vb = b0a.add(b1a), vc = c0.add(c1), vd = d0.add(d1);
        // dot's tree per row: w_j = v_j + v_(j+8), x_j = w_j + w_(j+4), y_j = x_j + x_(j+2), sum = y_0 + y_1
        FloatVector wab = va.rearrange(LO8, vb).add(va.rearrange(HI8, vb)); // [w^a_0..7 | w^b_0..7]
        FloatVector wcd = vc.rearrange(LO8, vd).add(vc.rearrange(HI8, vd));
        FloatVector xq = wab.rearrange(LO4, wcd).add(wab.rearrange(HI4, wcd)); // [x^a_0..3 | x^b | x^c | x^d]
        FloatVector yq = xq.rearrange(LO2).add(xq.rearrange(HI2)); // [y^a_0, y^a_1, y^b_0, y^b_1, ...]
        FloatVector sq = yq.rearrange(LO1).add(yq.rearrange(HI1)); // [s^a, s^b, s^c, s^d, ...]
        float sa = sq.lane(0), sb = sq.lane(1), sc = sq.lane(2), sd = sq.lane(3);
        for (; c < n; c++) {
            long o = (long) c * Float.BYTES;
            float xc = x[xOff + c];
            sa += w.get(F, b0 + o) * xc;
            sb += w.get(F, b1 + o) * xc;
            sc += w.get(F, b2 + o) * xc;
            sd += w.get(F, b3 + o) * xc;
        }
        out[outOff] = sa;
        out[outOff + outStride] = sb;
        out[outOff + 2 * outStride] = sc;
        out[outOff + 3 * outStride] = sd;
    }

    // the packing shuffles of dot4's lane trees (16 lanes); an index of L + i takes lane i of the second vector
    private static final VectorShuffle<Float> LO8 = VectorShuffle.fromOp(S, i -> i < 8 ? i : L + i - 8);
    private static final VectorShuffle<Float> HI8 = VectorShuffle.fromOp(S, i -> i < 8 ? i + 8 : L + i);
    private static final VectorShuffle<Float> LO4 = VectorShuffle.fromOp(S, i -> (i < 8 ? 0 : L) + (i % 8 / 4) * 8 + i % 4);
    private static final VectorShuffle<Float> HI4 = VectorShuffle.fromOp(S, i -> (i < 8 ? 0 : L) + (i % 8 / 4) * 8 + i % 4 + 4);
    private static final VectorShuffle<Float> LO2 = VectorShuffle.fromOp(S, i -> i < 8 ? (i / 2) * 4 + i % 2 : 0);
    private static final VectorShuffle<Float> HI2 = VectorShuffle.fromOp(S, i -> i < 8 ? (i / 2) * 4 + i % 2 + 2 : 0);
    private static final VectorShuffle<Float> LO1 = VectorShuffle.fromOp(S, i -> i < 4 ? 2 * i : 0);
    private static final VectorShuffle<Float> HI1 = VectorShuffle.fromOp(S, i -> i < 4 ? 2 * i + 1 : 0);

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
