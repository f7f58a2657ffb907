package io.lowbit.autograd.ops;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API building blocks for the fused F32 kernels: dot products and axpy over rows of contiguous
 * floats. Offsets are in floats (not bytes); tails run the scalar loop.
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
        return one.div(x.neg().lanewise(VectorOperators.EXP).add(one));
    }

    /** Σ a[i]·b[i] for i in [0, n). */
    static float dot(MemorySegment a, long ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length()) acc = load(a, ao + j).fma(load(b, bo + j), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) s += get(a, ao + j) * get(b, bo + j);
        return s;
    }

    /** Σ a[i]·b[i] with a on the heap. */
    static float dot(float[] a, int ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += S.length())
            acc = FloatVector.fromArray(S, a, ao + j).fma(load(b, bo + j), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
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
