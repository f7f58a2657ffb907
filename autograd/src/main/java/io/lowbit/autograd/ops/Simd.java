package io.lowbit.autograd.ops;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import io.lowbit.tensor.cpu.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API building blocks for the fused F32 kernels: dot products, axpy and exp over rows of
 * contiguous floats. Offsets are in floats (not bytes); tails run the scalar loop.
 *
 * <p>Determinism: the kernels use only lane-wise +, −, ×, fma, min/max and comparisons, whose results
 * are exactly specified, so the same inputs give the same bits whether the Vector API code is
 * interpreted or compiled. Two things are avoided on purpose: {@code VectorOperators.EXP} (the compiled
 * intrinsic and the interpreted fallback round differently) and {@code reduceLanes(ADD)} (its order is
 * unspecified); {@link #exp} and {@link #sum} replace them. Recomputation (activation checkpointing)
 * relies on this to reproduce gradients bit for bit.
 */
final class Simd {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final ByteOrder LE = ByteOrder.nativeOrder();
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private Simd() {}

    static float get(MemorySegment s, long i) { return s.getAtIndex(F, i); }

    static void set(MemorySegment s, long i, float v) { s.setAtIndex(F, i, v); }

    static FloatVector load(MemorySegment s, long i) { return FloatVector.fromMemorySegment(S, s, i * 4, LE); }

    static void store(FloatVector v, MemorySegment s, long i) { v.intoMemorySegment(s, i * 4, LE); }

    /** 1/(1 + e^(−x)) lane-wise. */
    static FloatVector sigmoid(FloatVector x) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        return one.div(exp(x.neg()).add(one));
    }

    /** Sum of the lanes by a fixed pairwise tree (halves, quarters, ...), unlike reduceLanes' unspecified order. */
    static float sum(FloatVector v) {
        return Lanes.sum(v);
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693145751953125f, LN2_LO = 1.428606765330187045e-06f;
    private static final float ROUND = 12582912f; // 1.5·2²³: adding and subtracting it rounds to an integer

    /**
     * e^x lane-wise to about 2 ulp: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial
     * (Horner), times 2ⁿ built in the exponent bits. Inputs below −87.3 give 0 and above 88.7 give +∞: two
     * compare-and-blends overwrite whatever those lanes computed, so x is not clamped first (Java's NaN-aware
     * vector max and min are instruction sequences on x86; clamping made this exp 2.3x slower). NaN stays NaN.
     * n is read from the low mantissa bits of x·log2(e) + 1.5·2²³ rather than by a float-to-int conversion:
     * fewer nodes, so C2 still inlines the loads and stores around a call (a kernel it gives up inlining runs
     * the Vector API's scalar fallback).
     */
    static FloatVector exp(FloatVector x) {
        FloatVector t = x.mul(LOG2E).add(ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x).sub(n.mul(LN2_LO));
        FloatVector p = r.fma(1f / 5040, 1f / 720);
        p = p.fma(r, FloatVector.broadcast(S, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        FloatVector scale = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND) - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale).blend(0f, x.lt(-87.3f)).blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, 88.7f));
    }

    /** Σ a[i]·b[i] for i in [0, n). */
    static float dot(MemorySegment a, long ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length()) acc = load(a, ao + j).fma(load(b, bo + j), acc);
        float s = sum(acc);
        for (; j < n; j++) s += get(a, ao + j) * get(b, bo + j);
        return s;
    }

    /** Σ a[i]·b[i] with a on the heap. */
    static float dot(float[] a, int ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length())
            acc = FloatVector.fromArray(S, a, ao + j).fma(load(b, bo + j), acc);
        float s = sum(acc);
        for (; j < n; j++) s += a[ao + j] * get(b, bo + j);
        return s;
    }

    /** y[i] += alpha·x[i] for i in [0, n), y on the heap. */
    static void axpy(float alpha, MemorySegment x, long xo, float[] y, int yo, int n) {
        FloatVector a = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length())
            load(x, xo + j).fma(a, FloatVector.fromArray(S, y, yo + j)).intoArray(y, yo + j);
        for (; j < n; j++) y[yo + j] += alpha * get(x, xo + j);
    }

    /** y[i] += alpha·x[i] for i in [0, n), both off-heap. */
    static void axpy(float alpha, MemorySegment x, long xo, MemorySegment y, long yo, int n) {
        FloatVector a = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length()) store(load(x, xo + j).fma(a, load(y, yo + j)), y, yo + j);
        for (; j < n; j++) set(y, yo + j, get(y, yo + j) + alpha * get(x, xo + j));
    }

    /** y[i] += alpha·x[i], x on the heap. */
    static void axpy(float alpha, float[] x, int xo, MemorySegment y, long yo, int n) {
        FloatVector a = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length())
            store(FloatVector.fromArray(S, x, xo + j).fma(a, load(y, yo + j)), y, yo + j);
        for (; j < n; j++) set(y, yo + j, get(y, yo + j) + alpha * x[xo + j]);
    }
}
