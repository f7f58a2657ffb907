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
    // ROTk: lane i reads lane (i + k) mod L; static final so C2 folds them; null when k >= L
    private static final VectorShuffle<Float> ROT8 = rot(8), ROT4 = rot(4), ROT2 = rot(2), ROT1 = rot(1);

    private Lanes() {}

    private static VectorShuffle<Float> rot(int k) {
        return k < F.length() ? VectorShuffle.iota(F, k, 1, true) : null;
    }

    /** Σ of the lanes of a {@code SPECIES_PREFERRED} vector, in the same order in every JIT tier. */
    public static float sum(FloatVector v) {
        if (F.length() > 16) throw new IllegalStateException("lane sum written for at most 16 lanes, this machine has " + F.length());
        if (ROT8 != null) v = v.add(v.rearrange(ROT8));
        if (ROT4 != null) v = v.add(v.rearrange(ROT4));
        if (ROT2 != null) v = v.add(v.rearrange(ROT2));
        if (ROT1 != null) v = v.add(v.rearrange(ROT1));
        return v.lane(0);
    }
}
