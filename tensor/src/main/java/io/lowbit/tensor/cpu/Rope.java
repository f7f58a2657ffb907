package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

/**
 * Rotary position embedding (RoFormer eq. 34) applied to x [b, t, heads, headDim] (or [t, heads, headDim])
 * at positions positionOffset + t. Pair i rotates by the angle of table column i:
 * <ul>
 *   <li>interleaved (Meta / llama2.c): pairs (2i, 2i+1);</li>
 *   <li>rotate-half (Hugging Face): pairs (i, i + headDim/2).</li>
 * </ul>
 * (x₀, x₁) → (x₀·cos − x₁·sin, x₀·sin + x₁·cos); the inverse rotation (sin → −sin) is the backward pass.
 */
final class Rope {
    private Rope() {}

    static RopeTables tables(int headDim, int maxPositions, double theta, RopeScaling scaling) {
        if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("rope: headDim must be even and positive, got " + headDim);
        if (maxPositions <= 0) throw new IllegalArgumentException("rope: maxPositions must be positive, got " + maxPositions);
        if (!(theta > 1)) throw new IllegalArgumentException("rope: theta must be > 1, got " + theta);
        int half = headDim / 2;
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = Math.pow(theta, -2.0 * i / headDim); // θ_i = θ^(-2i/d)
            if (scaling != null) invFreq[i] = scaling.apply(invFreq[i]);
        }
        Tensor cos = Tensor.empty(DType.F32, maxPositions, half), sin = Tensor.empty(DType.F32, maxPositions, half);
        MemorySegment sc = cos.segment(), ss = sin.segment();
        Parallel.range(maxPositions, Math.max(1, 4096 / half), (lo, hi) -> {
            for (long p = lo; p < hi; p++)
                for (int i = 0; i < half; i++) {
                    double angle = p * invFreq[i];
                    sc.set(FL, 4 * (p * half + i), (float) Math.cos(angle));
                    ss.set(FL, 4 * (p * half + i), (float) Math.sin(angle));
                }
        });
        return new RopeTables(cos, sin);
    }

    static Tensor apply(Tensor x, Tensor cos, Tensor sin, int positionOffset, boolean interleaved, boolean inverse) {
        Kernels.f32("rope", "x", x);
        Kernels.f32("rope", "cos", cos);
        Kernels.f32("rope", "sin", sin);
        if (x.dim() != 3 && x.dim() != 4)
            throw new IllegalArgumentException("rope: x must be [b, t, heads, headDim] or [t, heads, headDim], got " + Arrays.toString(x.shape()));
        int hd = x.size(-1), heads = x.size(-2), t = x.size(-3), b = x.dim() == 4 ? x.size(0) : 1;
        int half = hd / 2;
        if (hd % 2 != 0 || cos.dim() != 2 || cos.size(1) != half || !Arrays.equals(cos.shape(), sin.shape()))
            throw new IllegalArgumentException("rope: tables cos " + Arrays.toString(cos.shape()) + " / sin " + Arrays.toString(sin.shape())
                    + " do not fit x " + Arrays.toString(x.shape()) + " (need [positions, " + half + "] each, even headDim)");
        if (positionOffset < 0 || positionOffset + t > cos.size(0))
            throw new IllegalArgumentException("rope: positions [" + positionOffset + ", " + (positionOffset + t) + ") exceed the "
                    + cos.size(0) + " positions of the tables");
        Tensor y = Tensor.empty(DType.F32, x.shape());
        MemorySegment sx = x.segment(), sy = y.segment(), sc = cos.segment(), ss = sin.segment();
        long xb0 = x.byteOffset(), cb0 = cos.byteOffset(), sb0 = sin.byteOffset();
        float sign = inverse ? -1f : 1f;
        long tokens = (long) b * t;
        Parallel.range(tokens, Math.max(1, 4096 / Math.max(1, heads * hd)), (lo, hi) -> {
            float[] cosDup = new float[hd], sinAlt = new float[hd];
            for (long tok = lo; tok < hi; tok++) {
                long pos = positionOffset + tok % t;
                long cb = cb0 + 4 * pos * half, sb = sb0 + 4 * pos * half;
                if (interleaved) {
                    // out = x·[c0 c0 c1 c1 ..] + swapPairs(x)·[-s0 s0 -s1 s1 ..]
                    for (int i = 0; i < half; i++) {
                        float c = sc.get(FL, cb + 4L * i), s = sign * ss.get(FL, sb + 4L * i);
                        cosDup[2 * i] = c;
                        cosDup[2 * i + 1] = c;
                        sinAlt[2 * i] = -s;
                        sinAlt[2 * i + 1] = s;
                    }
                }
                for (int h = 0; h < heads; h++) {
                    long off = (tok * heads + h) * hd * 4L;
                    if (interleaved) interleavedRow(sx, xb0 + off, sy, off, cosDup, sinAlt, hd);
                    else rotateHalfRow(sx, xb0 + off, sy, off, sc, cb, ss, sb, sign, half);
                }
            }
        });
        return y;
    }

    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);

    private static void interleavedRow(MemorySegment sx, long xb, MemorySegment sy, long yb, float[] cosDup, float[] sinAlt, int hd) {
        int j = 0;
        for (int bound = F.loopBound(hd); j < bound; j += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, Elementwise.LE);
            FloatVector c = FloatVector.fromArray(F, cosDup, j), s = FloatVector.fromArray(F, sinAlt, j);
            v.rearrange(SWAP_PAIRS).mul(s).add(v.mul(c)).intoMemorySegment(sy, yb + 4L * j, Elementwise.LE);
        }
        for (; j < hd; j += 2) { // F.length() is even, so the tail starts on a pair
            float x0 = sx.get(FL, xb + 4L * j), x1 = sx.get(FL, xb + 4L * (j + 1));
            sy.set(FL, yb + 4L * j, x0 * cosDup[j] + x1 * sinAlt[j]);
            sy.set(FL, yb + 4L * (j + 1), x1 * cosDup[j + 1] + x0 * sinAlt[j + 1]);
        }
    }

    private static void rotateHalfRow(MemorySegment sx, long xb, MemorySegment sy, long yb, MemorySegment sc, long cb,
                                      MemorySegment ss, long sb, float sign, int half) {
        long hb = 4L * half;
        int i = 0;
        for (int bound = F.loopBound(half); i < bound; i += F.length()) {
            FloatVector x0 = FloatVector.fromMemorySegment(F, sx, xb + 4L * i, Elementwise.LE);
            FloatVector x1 = FloatVector.fromMemorySegment(F, sx, xb + hb + 4L * i, Elementwise.LE);
            FloatVector c = FloatVector.fromMemorySegment(F, sc, cb + 4L * i, Elementwise.LE);
            FloatVector s = FloatVector.fromMemorySegment(F, ss, sb + 4L * i, Elementwise.LE).mul(sign);
            x0.mul(c).sub(x1.mul(s)).intoMemorySegment(sy, yb + 4L * i, Elementwise.LE);
            x1.mul(c).add(x0.mul(s)).intoMemorySegment(sy, yb + hb + 4L * i, Elementwise.LE);
        }
        for (; i < half; i++) {
            float x0 = sx.get(FL, xb + 4L * i), x1 = sx.get(FL, xb + hb + 4L * i);
            float c = sc.get(FL, cb + 4L * i), s = sign * ss.get(FL, sb + 4L * i);
            sy.set(FL, yb + 4L * i, x0 * c - x1 * s);
            sy.set(FL, yb + hb + 4L * i, x1 * c + x0 * s);
        }
    }
}
