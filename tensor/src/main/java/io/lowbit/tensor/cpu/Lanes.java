package io.lowbit.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The lane sum every CPU reduction uses: a fixed pairwise tree (halves, quarters, ...). {@code reduceLanes(ADD)}
 * leaves the order unspecified, and its interpreted and JIT-compiled forms differ in the last bit, so the same
 * sum computed before and after a method gets compiled could differ (a test comparing two identical training
 * runs bit for bit failed that way, now and then). The autograd and model kernels use it too.
 */
public final class Lanes {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    // ROTk: lane i reads lane (i + k) mod L; static final so C2 folds them; null when k >= L
    private static final VectorShuffle<Float> ROT8 = rot(8), ROT4 = rot(4), ROT2 = rot(2), ROT1 = rot(1);

    static {
        if (L > 16) throw new IllegalStateException("lane sum written for at most 16 lanes, this machine has " + L);
    }

    private Lanes() {}

    private static VectorShuffle<Float> rot(int k) {
        return k < L ? VectorShuffle.iota(F, k, 1, true) : null;
    }

    /**
     * Σ of the lanes of a {@code SPECIES_PREFERRED} vector, in the same order in every JIT tier. Written as
     * methods under 35 bytes of bytecode, which C2 inlines even where the call is not hot: a sum it did not
     * inline took its vector boxed and ran the Vector API's scalar fallback (RMSNorm's backward, once per
     * row, allocated ~5 GB a minute in training).
     */
    public static float sum(FloatVector v) {
        return fold1(fold2(fold4(fold8(v)))).lane(0);
    }

    /**
     * The same sum, in scalar code, of the {@code SPECIES_PREFERRED.length()} floats at a[o …] (a vector's lanes
     * stored there with {@code intoArray}); the same bits as {@link #sum(FloatVector)}. In place: a is scratch.
     * For kernels whose lane sums come after an exp, past the point where C2 stops inlining calls: a vector
     * handed to a call it did not inline is boxed and summed by the Vector API's scalar fallback.
     */
    public static float sum(float[] a, int o) {
        for (int h = L / 2; h > 0; h /= 2)
            for (int i = 0; i < h; i++) a[o + i] += a[o + i + h];
        return a[o];
    }

    private static FloatVector fold8(FloatVector v) {
        return L > 8 ? v.add(v.rearrange(ROT8)) : v;
    }

    private static FloatVector fold4(FloatVector v) {
        return L > 4 ? v.add(v.rearrange(ROT4)) : v;
    }

    private static FloatVector fold2(FloatVector v) {
        return L > 2 ? v.add(v.rearrange(ROT2)) : v;
    }

    private static FloatVector fold1(FloatVector v) {
        return L > 1 ? v.add(v.rearrange(ROT1)) : v;
    }
}
