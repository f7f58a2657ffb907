package io.lowbit.tensor.cpu;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Argument checks and vector building blocks shared by the fused kernels. */
final class Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final ValueLayout.OfFloat FL = ValueLayout.JAVA_FLOAT;

    private Kernels() {}

    /** Throws naming the argument unless t is an open, contiguous F32 tensor. */
    static void f32(String op, String arg, Tensor t) {
        if (t.isClosed()) throw new IllegalStateException(op + ": " + arg + " used after close");
        if (t.dtype() != DType.F32)
            throw new IllegalArgumentException(op + ": " + arg + " must be F32, got " + t.dtype() + Arrays.toString(t.shape()));
        if (!t.isContiguous())
            throw new IllegalArgumentException(op + ": " + arg + " " + Arrays.toString(t.shape()) + " with strides "
                    + Arrays.toString(t.strides()) + " must be contiguous; call contiguous() first");
    }

    /** Σ a[i]·b[i] over n floats at byte offsets ab, bb. */
    static float dot(MemorySegment a, long ab, MemorySegment b, long bb, int n) {
        int step = F.length();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int j = 0;
        for (int bound = n - 2 * step; j <= bound; j += 2 * step) {
            acc0 = FloatVector.fromMemorySegment(F, a, ab + 4L * j, Elementwise.LE)
                    .fma(FloatVector.fromMemorySegment(F, b, bb + 4L * j, Elementwise.LE), acc0);
            acc1 = FloatVector.fromMemorySegment(F, a, ab + 4L * (j + step), Elementwise.LE)
                    .fma(FloatVector.fromMemorySegment(F, b, bb + 4L * (j + step), Elementwise.LE), acc1);
        }
        for (int bound = n - step; j <= bound; j += step)
            acc0 = FloatVector.fromMemorySegment(F, a, ab + 4L * j, Elementwise.LE)
                    .fma(FloatVector.fromMemorySegment(F, b, bb + 4L * j, Elementwise.LE), acc0);
        float s = Lanes.sum(acc0.add(acc1));
        for (; j < n; j++) s = Math.fma(a.get(FL, ab + 4L * j), b.get(FL, bb + 4L * j), s);
        return s;
    }

    /** max of a[0..n). */
    static float max(float[] a, int n) {
        float max = Float.NEGATIVE_INFINITY;
        int j = 0;
        int bound = F.loopBound(n);
        if (bound > 0) {
            FloatVector vm = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; j < bound; j += F.length()) vm = vm.max(FloatVector.fromArray(F, a, j));
            max = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; j < n; j++) max = Math.max(max, a[j]);
        return max;
    }

    /** a[j] = exp(a[j] − shift) for j &lt; n (softmax numerators); returns their sum. */
    static float expShiftedInPlace(float[] a, int n, float shift) {
        int j = 0;
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        for (; j < bound; j += F.length()) {
            FloatVector e = FloatVector.fromArray(F, a, j).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(a, j);
            acc = acc.add(e);
        }
        float sum = Lanes.sum(acc);
        for (; j < n; j++) {
            a[j] = (float) Math.exp(a[j] - shift);
            sum += a[j];
        }
        return sum;
    }
}
