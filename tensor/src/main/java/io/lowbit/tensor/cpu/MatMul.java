package io.lowbit.tensor.cpu;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * NumPy-style matmul over {@link Sgemm}: 1-D operands are promoted, batch dimensions broadcast, and an
 * operand whose last two dimensions are a transposed view is passed as a transposed GEMM operand instead
 * of being copied.
 */
final class MatMul {
    private MatMul() {}

    /** (transposed, leading dimension) of a rows×cols matrix view with the given strides, or null. */
    static long[] layout(int rows, int cols, long sr, long sc) {
        if ((cols == 1 || sc == 1) && (rows == 1 || sr >= cols)) return new long[] {0, rows == 1 ? Math.max(cols, 1) : sr};
        if ((rows == 1 || sr == 1) && (cols == 1 || sc >= rows)) return new long[] {1, cols == 1 ? Math.max(rows, 1) : sc};
        return null;
    }

    static Tensor matmul(Tensor a0, Tensor b0) {
        if (a0.dtype() != b0.dtype()) throw new IllegalArgumentException("matmul: dtypes " + a0.dtype() + " and " + b0.dtype() + " differ");
        if (a0.dtype() != DType.F32 && a0.dtype() != DType.F64) throw new IllegalArgumentException("matmul computes in F32 or F64, got " + a0.dtype());
        if (a0.dim() == 0 || b0.dim() == 0) throw new IllegalArgumentException("matmul of a 0-d tensor");
        Tensor a = a0.dim() == 1 ? a0.unsqueeze(0) : a0;
        Tensor b = b0.dim() == 1 ? b0.unsqueeze(1) : b0;
        int m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
        if (k != k2)
            throw new IllegalArgumentException("matmul: shapes " + Arrays.toString(a0.shape()) + " and " + Arrays.toString(b0.shape()) + " do not align");
        int[] ab = Arrays.copyOf(a.shape(), a.dim() - 2), bb = Arrays.copyOf(b.shape(), b.dim() - 2);
        int[] batch;
        try {
            batch = Shape.broadcast(ab, bb);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("matmul: batch dimensions of shapes " + Arrays.toString(a0.shape()) + " and "
                    + Arrays.toString(b0.shape()) + " do not broadcast");
        }
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        int[] aFull = Arrays.copyOf(batch, batch.length + 2);
        aFull[batch.length] = m; aFull[batch.length + 1] = k;
        int[] bFull = Arrays.copyOf(batch, batch.length + 2);
        bFull[batch.length] = k; bFull[batch.length + 1] = n;
        Tensor ae = a.expand(aFull), be = b.expand(bFull);
        Tensor ac = null, bc = null;
        long[] la = layout(m, k, ae.stride(-2), ae.stride(-1));
        if (la == null) { ac = a.contiguous(); ae = ac.expand(aFull); la = layout(m, k, ae.stride(-2), ae.stride(-1)); }
        long[] lb = layout(k, n, be.stride(-2), be.stride(-1));
        if (lb == null) { bc = b.contiguous(); be = bc.expand(bFull); lb = layout(k, n, be.stride(-2), be.stride(-1)); }
        // dropping the size-1 dims that 1-D operands were promoted with leaves the row-major layout unchanged,
        // so the result is allocated in its final shape and written with [..., m, n] offsets
        int[] finalShape = outShape;
        if (a0.dim() == 1 && b0.dim() == 1) finalShape = new int[0];
        else if (a0.dim() == 1) { finalShape = Arrays.copyOf(batch, batch.length + 1); finalShape[batch.length] = n; }
        else if (b0.dim() == 1) { finalShape = Arrays.copyOf(batch, batch.length + 1); finalShape[batch.length] = m; }
        Tensor out = Tensor.empty(a.dtype(), finalShape);
        long batches = Shape.numel(batch);
        if (batches > 1 && b.dim() == 2 && a.isContiguous() && (long) m * batches <= Integer.MAX_VALUE) {
            // a stack of row-major A against one B (x·Wᵀ over [batch, seq, in]): one product with the batch folded
            // into the rows, so B is packed once and the threads split batch·m rows instead of m rows 'batch' times
            int rows = (int) (m * batches);
            if (a.dtype() == DType.F32)
                Sgemm.sgemm(false, lb[0] == 1, rows, n, k, 1f, a.segment(), a.offset(), k, b.segment(), be.offset(), (int) lb[1],
                        0f, out.segment(), 0, n);
            else
                dgemm(a, a.offset(), new long[] {0, k}, be, be.offset(), lb, out, 0, rows, n, k);
            if (bc != null && bc != b) bc.close();
            return out;
        }
        int[] pos = new int[batch.length];
        for (long bi = 0; bi < batches; bi++) {
            CpuBackend.unravel(bi, batch, pos);
            long aOff = ae.offset(), bOff = be.offset();
            for (int d = 0; d < batch.length; d++) {
                aOff += pos[d] * ae.stride(d);
                bOff += pos[d] * be.stride(d);
            }
            long cOff = bi * (long) m * n;
            if (a.dtype() == DType.F32) {
                Sgemm.sgemm(la[0] == 1, lb[0] == 1, m, n, k, 1f, ae.segment(), aOff, (int) la[1],
                        be.segment(), bOff, (int) lb[1], 0f, out.segment(), cOff, n);
            } else {
                dgemm(ae, aOff, la, be, bOff, lb, out, cOff, m, n, k);
            }
        }
        if (ac != null && ac != a) ac.close();
        if (bc != null && bc != b) bc.close();
        return out;
    }

    private static void dgemm(Tensor a, long aOff, long[] la, Tensor b, long bOff, long[] lb, Tensor c, long cOff, int m, int n, int k) {
        var sa = a.segment(); var sb = b.segment(); var sc = c.segment();
        var D = java.lang.foreign.ValueLayout.JAVA_DOUBLE;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double x = sa.getAtIndex(D, aOff + (la[0] == 1 ? p * la[1] + i : i * la[1] + p));
                    double y = sb.getAtIndex(D, bOff + (lb[0] == 1 ? j * lb[1] + p : p * lb[1] + j));
                    s += x * y;
                }
                sc.setAtIndex(D, cOff + (long) i * n + j, s);
            }
    }
}
