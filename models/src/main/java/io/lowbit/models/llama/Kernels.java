package io.lowbit.models.llama;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The few vector kernels decoding needs, on F32 weights in off-heap segments and activations in float
 * arrays: dot products (the inner loop of every GEMV), RMSNorm, softmax and SiLU-gating. All are serial;
 * {@link LlamaModel} splits GEMVs over output rows across threads.
 */
public final class Kernels {
    private Kernels() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Σ_i w[wOff + i]·x[xOff + i] for i &lt; n ({@code wOff} in floats). */
    public static float dot(MemorySegment w, long wOff, float[] x, int xOff, int n) {
        long base = wOff * 4;
        int len = S.length(), i = 0;
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        for (int up = n - 4 * len; i <= up; i += 4 * len) {
            a0 = FloatVector.fromMemorySegment(S, w, base + 4L * i, NATIVE).fma(FloatVector.fromArray(S, x, xOff + i), a0);
            a1 = FloatVector.fromMemorySegment(S, w, base + 4L * (i + len), NATIVE).fma(FloatVector.fromArray(S, x, xOff + i + len), a1);
            a2 = FloatVector.fromMemorySegment(S, w, base + 4L * (i + 2 * len), NATIVE).fma(FloatVector.fromArray(S, x, xOff + i + 2 * len), a2);
            a3 = FloatVector.fromMemorySegment(S, w, base + 4L * (i + 3 * len), NATIVE).fma(FloatVector.fromArray(S, x, xOff + i + 3 * len), a3);
        }
        for (int up = n - len; i <= up; i += len)
            a0 = FloatVector.fromMemorySegment(S, w, base + 4L * i, NATIVE).fma(FloatVector.fromArray(S, x, xOff + i), a0);
        float s = sum(a0.add(a1).add(a2.add(a3)));
        for (; i < n; i++) s += w.get(F, base + 4L * i) * x[xOff + i];
        return s;
    }

    /**
     * Four dot products at once, rows {@code r·rowStride} apart starting at {@code wOff} (floats), against the
     * same x: out[outOff + r·outStride] = W[r]·x. Sharing each load of x across four rows halves the loads
     * per multiply-add compared with four calls to {@link #dot(MemorySegment, long, float[], int, int)}.
     */
    public static void dot4(MemorySegment w, long wOff, long rowStride, float[] x, int xOff, int n, float[] out, int outOff, int outStride) {
        long b0 = wOff * 4, b1 = b0 + rowStride * 4, b2 = b1 + rowStride * 4, b3 = b2 + rowStride * 4;
        int len = S.length(), i = 0;
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S), c2 = FloatVector.zero(S), c3 = FloatVector.zero(S);
        for (int up = n - 2 * len; i <= up; i += 2 * len) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i), x1 = FloatVector.fromArray(S, x, xOff + i + len);
            long o0 = 4L * i, o1 = 4L * (i + len);
            a0 = FloatVector.fromMemorySegment(S, w, b0 + o0, NATIVE).fma(x0, a0);
            a1 = FloatVector.fromMemorySegment(S, w, b1 + o0, NATIVE).fma(x0, a1);
            a2 = FloatVector.fromMemorySegment(S, w, b2 + o0, NATIVE).fma(x0, a2);
            a3 = FloatVector.fromMemorySegment(S, w, b3 + o0, NATIVE).fma(x0, a3);
            c0 = FloatVector.fromMemorySegment(S, w, b0 + o1, NATIVE).fma(x1, c0);
            c1 = FloatVector.fromMemorySegment(S, w, b1 + o1, NATIVE).fma(x1, c1);
            c2 = FloatVector.fromMemorySegment(S, w, b2 + o1, NATIVE).fma(x1, c2);
            c3 = FloatVector.fromMemorySegment(S, w, b3 + o1, NATIVE).fma(x1, c3);
        }
        for (int up = n - len; i <= up; i += len) {
            FloatVector x0 = FloatVector.fromArray(S, x, xOff + i);
            long o0 = 4L * i;
            a0 = FloatVector.fromMemorySegment(S, w, b0 + o0, NATIVE).fma(x0, a0);
            a1 = FloatVector.fromMemorySegment(S, w, b1 + o0, NATIVE).fma(x0, a1);
            a2 = FloatVector.fromMemorySegment(S, w, b2 + o0, NATIVE).fma(x0, a2);
            a3 = FloatVector.fromMemorySegment(S, w, b3 + o0, NATIVE).fma(x0, a3);
        }
        float s0 = sum(a0.add(c0)), s1 = sum(a1.add(c1)), s2 = sum(a2.add(c2)), s3 = sum(a3.add(c3));
        for (; i < n; i++) {
            float xi = x[xOff + i];
            long o = 4L * i;
            s0 += w.get(F, b0 + o) * xi;
            s1 += w.get(F, b1 + o) * xi;
            s2 += w.get(F, b2 + o) * xi;
            s3 += w.get(F, b3 + o) * xi;
        }
        out[outOff] = s0;
        out[outOff + outStride] = s1;
        out[outOff + 2 * outStride] = s2;
        out[outOff + 3 * outStride] = s3;
    }

    /**
     * Lane sum in a fixed left-to-right order. {@code reduceLanes(ADD)} leaves the order unspecified and the
     * JIT-compiled and interpreted forms differ in the last bit, which would make results depend on warm-up.
     */
    static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /** Σ_i a[aOff + i]·b[bOff + i] for i &lt; n, both on the heap (attention scores). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int len = S.length(), i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int up = n - len; i <= up; i += len)
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        float s = sum(acc);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /** y[yOff + i] += alpha·x[xOff + i] for i &lt; n. */
    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int len = S.length(), i = 0;
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (int up = n - len; i <= up; i += len)
            FloatVector.fromArray(S, x, xOff + i).fma(va, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        for (; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
    }

    /** y[yOff + i] += alpha·x[xOff + i] for i &lt; n, x off-heap ({@code xOff} in floats). */
    public static void axpy(float alpha, MemorySegment x, long xOff, float[] y, int yOff, int n) {
        int len = S.length(), i = 0;
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (int up = n - len; i <= up; i += len)
            FloatVector.fromMemorySegment(S, x, 4 * (xOff + i), NATIVE).fma(va, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        for (; i < n; i++) y[yOff + i] += alpha * x.get(F, 4 * (xOff + i));
    }

    /** out = x / sqrt(mean(x²) + eps) ⊙ g (Zhang &amp; Sennrich 2019, eq. 4); out may alias x. */
    public static void rmsnorm(float[] out, int outOff, float[] x, int xOff, MemorySegment g, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        int len = S.length(), i = 0;
        for (int up = n - len; i <= up; i += len)
            FloatVector.fromArray(S, x, xOff + i).mul(inv).mul(FloatVector.fromMemorySegment(S, g, 4L * i, NATIVE)).intoArray(out, outOff + i);
        for (; i < n; i++) out[outOff + i] = g.get(F, 4L * i) * (inv * x[xOff + i]);
    }

    /** In-place softmax of x[off .. off+n). */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }

    /** SwiGLU gate: h[i] = silu(h[i])·u[i], silu(z) = z·σ(z) (Shazeer 2020, eq. 6). */
    public static void siluMul(float[] h, int hOff, float[] u, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            float z = h[hOff + i];
            h[hOff + i] = z / (1f + (float) Math.exp(-z)) * u[uOff + i];
        }
    }
}
