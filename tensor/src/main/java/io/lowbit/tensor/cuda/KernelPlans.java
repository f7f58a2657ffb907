package io.lowbit.tensor.cuda;

import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The index arithmetic between a strided tensor and a kernel's arguments, kept apart from JCuda so it is
 * tested on machines without a GPU ({@code KernelPlansTest} interprets each plan the way its kernel in
 * {@link KernelSource} does and compares with the CPU backend).
 */
final class KernelPlans {
    private KernelPlans() {}

    /**
     * Arguments of the {@code reduce} kernel: out[o] = reduce over r &lt; len of x[at(kept, o) + at(reduced, r)].
     *
     * @param kept     layout over the output's elements with x's strides and offset
     * @param reduced  layout over the reduced elements with x's strides, offset 0
     * @param len      number of reduced elements per output
     * @param outShape shape of the result
     */
    record Reduce(long[] kept, long[] reduced, long len, int[] outShape) {}

    /** Reduction of x (rank ≥ 1) along {@code dim}. */
    static Reduce reduce(Tensor x, int dim, boolean keepdim) {
        int r = x.dim();
        dim = Shape.axis(dim, r);
        int[] s = x.shape();
        long[] st = x.strides();
        int[] keptShape = new int[r - 1];
        long[] keptStride = new long[r - 1];
        int[] outShape = new int[keepdim ? r : r - 1];
        for (int i = 0, j = 0, o = 0; i < r; i++) {
            if (i == dim) {
                if (keepdim) outShape[o++] = 1;
                continue;
            }
            keptShape[j] = s[i];
            keptStride[j++] = st[i];
            outShape[o++] = s[i];
        }
        return new Reduce(Layout.of(keptShape, keptStride, x.offset()), Layout.of(new int[] {s[dim]}, new long[] {st[dim]}, 0), s[dim], outShape);
    }

    /** Sum of x down to {@code target} (broadcasting undone: leading dimensions and size-1 target dimensions are reduced). */
    static Reduce sumTo(Tensor x, int[] target) {
        int[] s = x.shape();
        int[] b = Shape.broadcast(target, s);
        if (!Arrays.equals(b, s)) throw new IllegalArgumentException("cannot sum " + Arrays.toString(s) + " to " + Arrays.toString(target));
        long[] st = x.strides();
        int lead = s.length - target.length;
        long[] keptStride = new long[target.length];
        int[] redShape = new int[s.length];
        long[] redStride = new long[s.length];
        int nr = 0;
        long len = 1;
        for (int d = 0; d < s.length; d++) {
            boolean reduced = d < lead || (target[d - lead] == 1 && s[d] != 1);
            if (reduced) {
                redShape[nr] = s[d];
                redStride[nr++] = st[d];
                len *= s[d];
            } else {
                keptStride[d - lead] = st[d];
            }
        }
        return new Reduce(Layout.of(target, keptStride, x.offset()), Layout.of(Arrays.copyOf(redShape, nr), Arrays.copyOf(redStride, nr), 0),
                len, target.clone());
    }

    /**
     * Arguments of the {@code softmax} kernel: row o of x starts at at(keptX, o) and steps by xStride;
     * the same row of the output starts at at(keptOut, o) and steps by outStride.
     */
    record Softmax(long[] keptX, long xStride, long[] keptOut, long outStride, long len, long rows) {}

    /** Softmax of x along {@code dim} into a tensor with strides {@code outStrides} (x's shape). */
    static Softmax softmax(Tensor x, int dim, long[] outStrides) {
        int r = x.dim();
        dim = Shape.axis(dim, r);
        int[] s = x.shape();
        long[] xs = x.strides();
        int[] kept = new int[r - 1];
        long[] kx = new long[r - 1], ko = new long[r - 1];
        for (int i = 0, j = 0; i < r; i++) {
            if (i == dim) continue;
            kept[j] = s[i];
            kx[j] = xs[i];
            ko[j++] = outStrides[i];
        }
        long len = s[dim];
        return new Softmax(Layout.of(kept, kx, x.offset()), xs[dim], Layout.of(kept, ko, 0), outStrides[dim], len, len == 0 ? 0 : x.numel() / len);
    }

    /**
     * Arguments of {@code gather} / {@code scatter_add}: element i of the index sits, in the indexed tensor,
     * at at(atIndex, i) with its {@code dim} coordinate p = (i / after) % dimSize, which the kernel swaps
     * for idx[i] by adding (idx[i] − p)·dimStride.
     */
    record Gather(long[] atIndex, long dimSize, long after, long dimStride) {}

    /** Gather/scatter plan for an index of shape {@code idxShape} into a tensor with the given strides and offset. */
    static Gather gather(int[] idxShape, long[] strides, long offset, int dim) {
        long after = 1;
        for (int i = dim + 1; i < idxShape.length; i++) after *= idxShape[i];
        return new Gather(Layout.of(idxShape, strides, offset), idxShape[dim], after, strides[dim]);
    }

    /**
     * Arguments of {@code index_add}: element e of src is row i = e / rowElems and position k within it;
     * it lands at at(row, k) + idx[i]·dimStride0 in dst.
     */
    record IndexAdd(long[] row, long dimStride0, long rowElems) {}

    /** index_add plan into {@code dst} for a source of {@code srcRows} rows. */
    static IndexAdd indexAdd(Tensor dst, int srcRows, long srcNumel) {
        int[] ds = dst.shape();
        long[] st = dst.strides();
        return new IndexAdd(Layout.of(Arrays.copyOfRange(ds, 1, ds.length), Arrays.copyOfRange(st, 1, st.length), dst.offset()), st[0],
                srcNumel / Math.max(1, srcRows));
    }
}
