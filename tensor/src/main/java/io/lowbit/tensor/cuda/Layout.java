package io.lowbit.tensor.cuda;

import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The {@code Layout} struct the kernels take by value (see {@link KernelSource#COMMON}): rank, element
 * offset, then 8 sizes and 8 element strides, all 64-bit, so a strided view (transposed, narrowed,
 * broadcast with stride 0) is read in place without a copy.
 */
final class Layout {
    /** Largest rank a kernel takes. */
    static final int MAX_DIMS = 8;

    private Layout() {}

    /** The struct for {@code t}'s shape, strides and offset. */
    static long[] of(Tensor t) {
        return of(t.shape(), t.strides(), t.offset());
    }

    /** The struct for an arbitrary shape/stride/offset triple. */
    static long[] of(int[] shape, long[] strides, long offset) {
        if (shape.length != strides.length)
            throw new IllegalArgumentException("layout with shape " + Arrays.toString(shape) + " and strides " + Arrays.toString(strides));
        if (shape.length > MAX_DIMS)
            throw new IllegalArgumentException("CUDA kernels take at most " + MAX_DIMS + " dimensions, got shape " + Arrays.toString(shape));
        long[] s = new long[2 + 2 * MAX_DIMS];
        s[0] = shape.length;
        s[1] = offset;
        for (int d = 0; d < shape.length; d++) {
            s[2 + d] = shape[d];
            s[2 + MAX_DIMS + d] = strides[d];
        }
        return s;
    }

    /** The struct of a contiguous tensor of {@code shape} starting at element 0. */
    static long[] contiguous(int[] shape) {
        long[] st = new long[shape.length];
        long acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            st[d] = acc;
            acc *= shape[d];
        }
        return of(shape, st, 0);
    }

    /** Storage element index of logical flat index {@code i} (the kernels' {@code at}, for tests and checks). */
    static long at(long[] layout, long i) {
        long e = layout[1];
        for (int d = (int) layout[0] - 1; d >= 0; d--) {
            long size = layout[2 + d];
            long q = i / size;
            e += (i - q * size) * layout[2 + MAX_DIMS + d];
            i = q;
        }
        return e;
    }
}
