package io.lowbit.tensor.cuda;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasGemmAlgo;
import jcuda.jcublas.cublasOperation;

/**
 * NumPy-style matmul on cuBLAS, with the CPU's shape rules (1-D promotion, broadcast batch dimensions,
 * transposed views passed as transposed operands). F32 runs SGEMM, F64 DGEMM, BF16/F16 (through
 * {@link CudaBackend#matmulMixed}) GemmEx with fp32 accumulation into an F32 result. Batches whose
 * operands sit at a fixed stride go in one strided-batched call (attention's [B, H, T, T]); others loop.
 * Row-major ↔ column-major is handled by {@link GemmPlan} only.
 */
final class CudaMatMul {
    private CudaMatMul() {}

    /** (transposed, leading dimension) of a rows×cols matrix view with the given strides, or null. */
    static long[] layout(int rows, int cols, long sr, long sc) {
        if ((cols == 1 || sc == 1) && (rows == 1 || sr >= cols)) return new long[] {0, rows == 1 ? Math.max(cols, 1) : sr};
        if ((rows == 1 || sr == 1) && (cols == 1 || sc >= rows)) return new long[] {1, cols == 1 ? Math.max(rows, 1) : sc};
        return null;
    }

    /**
     * The fixed element stride between consecutive batches of an operand expanded to {@code batch}
     * dimensions, or -1 when its batches are not evenly spaced.
     */
    static long uniformBatchStride(int[] batch, long[] strides) {
        long batches = Shape.numel(batch);
        if (batches <= 1) return 0;
        // the stride of batch 1 relative to batch 0 is the stride of the innermost dimension of size > 1
        long s = -1, expect;
        for (int d = batch.length - 1; d >= 0; d--) if (batch[d] > 1) { s = strides[d]; break; }
        expect = s;
        for (int d = batch.length - 1; d >= 0; d--) {
            if (batch[d] == 1) continue;
            if (strides[d] != expect) return -1;
            expect *= batch[d];
        }
        return s;
    }

    static Tensor matmul(CudaBackend be, Tensor a0, Tensor b0, boolean mixed) {
        if (a0.dtype() != b0.dtype()) throw new IllegalArgumentException("matmul: dtypes " + a0.dtype() + " and " + b0.dtype() + " differ");
        DType t = a0.dtype();
        if (mixed && t != DType.BF16 && t != DType.F16) throw new IllegalArgumentException("matmulMixed takes BF16 or F16 operands, got " + t);
        if (!mixed && t != DType.F32 && t != DType.F64) throw new IllegalArgumentException("matmul computes in F32 or F64, got " + t);
        if (a0.dim() == 0 || b0.dim() == 0) throw new IllegalArgumentException("matmul of a 0-d tensor");
        Tensor a = a0.dim() == 1 ? a0.unsqueeze(0) : a0;
        Tensor b = b0.dim() == 1 ? b0.unsqueeze(1) : b0;
        int m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
        if (k != k2) throw new IllegalArgumentException("matmul: shapes " + Arrays.toString(a0.shape()) + " and " + Arrays.toString(b0.shape()) + " do not align");
        int[] batch = Shape.broadcast(Arrays.copyOf(a.shape(), a.dim() - 2), Arrays.copyOf(b.shape(), b.dim() - 2));
        int nb = batch.length;
        int[] outShape = Arrays.copyOf(batch, nb + 2);
        outShape[nb] = m;
        outShape[nb + 1] = n;
        int[] aFull = Arrays.copyOf(batch, nb + 2), bFull = Arrays.copyOf(batch, nb + 2);
        aFull[nb] = m; aFull[nb + 1] = k;
        bFull[nb] = k; bFull[nb + 1] = n;
        Tensor ae = a.expand(aFull), be2 = b.expand(bFull), ac = null, bc = null;
        long[] la = layout(m, k, ae.stride(-2), ae.stride(-1));
        if (la == null) { ac = be.contiguous(a); ae = ac.expand(aFull); la = layout(m, k, ae.stride(-2), ae.stride(-1)); }
        long[] lb = layout(k, n, be2.stride(-2), be2.stride(-1));
        if (lb == null) { bc = be.contiguous(b); be2 = bc.expand(bFull); lb = layout(k, n, be2.stride(-2), be2.stride(-1)); }
        DType outType = mixed ? DType.F32 : t;
        Tensor out = be.empty(outType, MemoryCategory.ACTIVATIONS, outShape);
        try {
            GemmPlan plan = GemmPlan.rowMajor(la[0] == 1, lb[0] == 1, m, n, k, (int) la[1], (int) lb[1], n);
            long batches = Shape.numel(batch);
            long[] as = Arrays.copyOf(ae.strides(), nb), bs = Arrays.copyOf(be2.strides(), nb);
            long sa = uniformBatchStride(batch, as), sb = uniformBatchStride(batch, bs);
            be.ctx.bind();
            if (out.numel() == 0) {
                // nothing to compute
            } else if (k == 0) {
                be.fill(out, 0);
            } else if (batches == 1 || (sa >= 0 && sb >= 0)) {
                gemm(be, plan, t, ae, ae.offset(), sa, be2, be2.offset(), sb, out, (long) m * n, (int) batches);
            } else {
                int[] pos = new int[nb];
                for (long bi = 0; bi < batches; bi++) {
                    long rem = bi;
                    for (int d = nb - 1; d >= 0; d--) { pos[d] = (int) (rem % batch[d]); rem /= batch[d]; }
                    long aOff = ae.offset(), bOff = be2.offset();
                    for (int d = 0; d < nb; d++) { aOff += pos[d] * as[d]; bOff += pos[d] * bs[d]; }
                    gemmAt(be, plan, t, ae, aOff, be2, bOff, out, bi * m * n);
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            if (ac != null && ac != a) ac.close();
            if (bc != null && bc != b) bc.close();
        }
        if (a0.dim() == 1 && b0.dim() == 1) return squeezeOwned(out, new int[0]);
        if (a0.dim() == 1) {
            int[] s = out.shape();
            int[] ns = new int[s.length - 1];
            System.arraycopy(s, 0, ns, 0, s.length - 2);
            ns[ns.length - 1] = n;
            return squeezeOwned(out, ns);
        }
        if (b0.dim() == 1) return squeezeOwned(out, Arrays.copyOf(out.shape(), out.dim() - 1));
        return out;
    }

    private static Tensor squeezeOwned(Tensor out, int[] shape) {
        Tensor c = out.reshape(shape).copy();
        out.close();
        return c;
    }

    private static int op(boolean trans) {
        return trans ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
    }

    private static int cudaType(DType t) {
        return switch (t) {
            case F32 -> cudaDataType.CUDA_R_32F;
            case F64 -> cudaDataType.CUDA_R_64F;
            case BF16 -> cudaDataType.CUDA_R_16BF;
            case F16 -> cudaDataType.CUDA_R_16F;
            default -> throw new IllegalArgumentException("no cuBLAS type for " + t);
        };
    }

    private static Pointer at(Tensor t, long elementOffset) {
        return CudaBackend.ptr(t, "matmul").withByteOffset(elementOffset * t.dtype().bytes);
    }

    // one gemm on the batch at the given element offsets (C = A·B, row-major through the plan)
    private static void gemmAt(CudaBackend be, GemmPlan p, DType t, Tensor a, long aOff, Tensor b, long bOff, Tensor c, long cOff) {
        gemm(be, p, t, a, aOff, 0, b, bOff, 0, c, 0, 1, cOff);
    }

    private static void gemm(CudaBackend be, GemmPlan p, DType t, Tensor a, long aOff, long sa, Tensor b, long bOff, long sb,
                             Tensor c, long sc, int batches) {
        gemm(be, p, t, a, aOff, sa, b, bOff, sb, c, sc, batches, 0);
    }

    // the cuBLAS call: the plan's first operand is our B, its second our A (see GemmPlan)
    private static void gemm(CudaBackend be, GemmPlan p, DType t, Tensor a, long aOff, long sa, Tensor b, long bOff, long sb,
                             Tensor c, long sc, int batches, long cOff) {
        var h = be.ctx.cublas;
        Pointer first = at(b, bOff), second = at(a, aOff), out = at(c, cOff);
        int opF = op(p.transFirst()), opS = op(p.transSecond());
        switch (t) {
            case F32 -> {
                Pointer one = Pointer.to(new float[] {1f}), zero = Pointer.to(new float[] {0f});
                if (batches == 1) JCublas2.cublasSgemm(h, opF, opS, p.m(), p.n(), p.k(), one, first, p.ldFirst(), second, p.ldSecond(), zero, out, p.ldc());
                else JCublas2.cublasSgemmStridedBatched(h, opF, opS, p.m(), p.n(), p.k(), one, first, p.ldFirst(), sb, second, p.ldSecond(), sa,
                        zero, out, p.ldc(), sc, batches);
            }
            case F64 -> {
                Pointer one = Pointer.to(new double[] {1}), zero = Pointer.to(new double[] {0});
                if (batches == 1) JCublas2.cublasDgemm(h, opF, opS, p.m(), p.n(), p.k(), one, first, p.ldFirst(), second, p.ldSecond(), zero, out, p.ldc());
                else JCublas2.cublasDgemmStridedBatched(h, opF, opS, p.m(), p.n(), p.k(), one, first, p.ldFirst(), sb, second, p.ldSecond(), sa,
                        zero, out, p.ldc(), sc, batches);
            }
            default -> { // BF16 / F16 inputs, fp32 accumulate and output
                Pointer one = Pointer.to(new float[] {1f}), zero = Pointer.to(new float[] {0f});
                int ty = cudaType(t);
                if (batches == 1) JCublas2.cublasGemmEx(h, opF, opS, p.m(), p.n(), p.k(), one, first, ty, p.ldFirst(), second, ty, p.ldSecond(),
                        zero, out, cudaDataType.CUDA_R_32F, p.ldc(), cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
                else JCublas2.cublasGemmStridedBatchedEx(h, opF, opS, p.m(), p.n(), p.k(), one, first, ty, p.ldFirst(), sb, second, ty, p.ldSecond(), sa,
                        zero, out, cudaDataType.CUDA_R_32F, p.ldc(), sc, batches, cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
            }
        }
    }
}
