package io.lowbit.models.llama;

import io.lowbit.tensor.cpu.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The few vector kernels decoding needs besides the GEMV ({@link io.lowbit.tensor.cpu.Gemv#dot}), on
 * activations in float arrays: dot products, RMSNorm, softmax and SiLU-gating ({@link KvCache} holds attention's own loops). All are
 * serial; {@link LlamaModel} splits work over heads and output rows across threads.
 */
public final class Kernels {
    private Kernels() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Σ_i a[aOff + i]·b[bOff + i] for i &lt; n, both on the heap (attention scores). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int len = S.length(), i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int up = n - len; i <= up; i += len)
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        float s = Lanes.sum(acc);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
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

    /** In-place softmax of x[off .. off+n), with {@link #exp(FloatVector)} on whole vectors. */
    public static void softmax(float[] x, int off, int n) {
        int len = S.length(), i = 0;
        float max = Float.NEGATIVE_INFINITY;
        for (; i <= n - len; i += len) max = Math.max(max, FloatVector.fromArray(S, x, off + i).reduceLanes(VectorOperators.MAX));
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector vmax = FloatVector.broadcast(S, max), acc = FloatVector.zero(S);
        i = 0;
        for (; i <= n - len; i += len) {
            FloatVector e = exp(FloatVector.fromArray(S, x, off + i).sub(vmax));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            float e = exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        i = 0;
        for (; i <= n - len; i += len) FloatVector.fromArray(S, x, off + i).mul(inv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= inv;
    }

    // exp(x) = 2^k · e^r with k = round(x·log2 e), r = x − k·ln 2 (split in two constants, Cody–Waite),
    // and e^r from Cephes' expf polynomial (relative error ≈ 1e-7 on |r| ≤ ln2/2).
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    private static final float EXP_MIN = -87.33654f; // below this e^x is not a normal float; the result is 0

    /**
     * e^x for x ≤ 0 lane by lane, using only exactly-rounded operations (fma, mul, add, bit shifts), so the
     * result is the same bits in interpreted and compiled code and in {@link #exp(float)}.
     */
    static FloatVector exp(FloatVector x) {
        var tiny = x.lt(EXP_MIN);
        x = x.max(EXP_MIN);
        FloatVector t = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND));
        FloatVector k = t.sub(ROUND);
        FloatVector r = k.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = k.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        var scale = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND)).lanewise(VectorOperators.LSHL, 23)
                .add(Float.floatToRawIntBits(1f)).reinterpretAsFloats();
        return y.mul(scale).blend(0f, tiny);
    }

    /** Scalar twin of {@link #exp(FloatVector)}: the same operations in the same order. */
    static float exp(float x) {
        if (x < EXP_MIN) return 0f;
        float t = Math.fma(x, LOG2E, ROUND);
        float k = t - ROUND;
        float r = Math.fma(k, -LN2_HI, x);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = p * (r * r) + r + 1f;
        float scale = Float.intBitsToFloat(((Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND)) << 23) + Float.floatToRawIntBits(1f));
        return y * scale;
    }

    /**
     * SwiGLU gate: h[i] = silu(h[i])·u[i], silu(z) = z·σ(z) (Shazeer 2020, eq. 6), on whole vectors. σ is
     * taken from e = e^(−|z|), which never overflows: σ(z) = 1/(1+e) for z ≥ 0 and e/(1+e) below.
     */
    public static void siluMul(float[] h, int hOff, float[] u, int uOff, int n) {
        int len = S.length(), i = 0;
        for (int up = n - len; i <= up; i += len) {
            FloatVector z = FloatVector.fromArray(S, h, hOff + i);
            FloatVector e = exp(z.abs().neg());
            FloatVector num = FloatVector.broadcast(S, 1f).blend(e, z.lt(0f));
            z.mul(num.div(e.add(1f))).mul(FloatVector.fromArray(S, u, uOff + i)).intoArray(h, hOff + i);
        }
        for (; i < n; i++) {
            float z = h[hOff + i], e = exp(-Math.abs(z));
            h[hOff + i] = z * ((z < 0 ? e : 1f) / (1f + e)) * u[uOff + i];
        }
    }
}
