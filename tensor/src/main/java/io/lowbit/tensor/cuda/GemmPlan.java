package io.lowbit.tensor.cuda;

/**
 * The one place where row-major meets cuBLAS's column-major. Our matrices are row-major; memory that holds
 * a row-major X (r×c, leading dimension ld) is, read column-major, Xᵀ (c×r, same ld). So the row-major
 * product C = op(A)·op(B) is computed as the column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands,
 * swap m and n, keep every leading dimension, and give each operand the same transpose flag it had.
 *
 * @param transFirst  cuBLAS transpose flag of the first operand (our B)
 * @param transSecond cuBLAS transpose flag of the second operand (our A)
 * @param m           cuBLAS m (rows of column-major Cᵀ) = our n
 * @param n           cuBLAS n = our m
 * @param k           shared dimension
 * @param ldFirst     our ldb
 * @param ldSecond    our lda
 * @param ldc         our ldc
 */
record GemmPlan(boolean transFirst, boolean transSecond, int m, int n, int k, int ldFirst, int ldSecond, int ldc) {

    /**
     * The column-major call for row-major C(m×n) = op(A)·op(B), with the same arguments as
     * {@link io.lowbit.tensor.cpu.Sgemm#sgemm}: transA means A is stored k×m, transB means B is stored n×k.
     */
    static GemmPlan rowMajor(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("gemm sizes m=" + m + " n=" + n + " k=" + k);
        if (lda < Math.max(1, transA ? m : k)) throw new IllegalArgumentException("lda " + lda + " too small for " + (transA ? "k×m" : "m×k") + " A, m=" + m + " k=" + k);
        if (ldb < Math.max(1, transB ? k : n)) throw new IllegalArgumentException("ldb " + ldb + " too small for " + (transB ? "n×k" : "k×n") + " B, k=" + k + " n=" + n);
        if (ldc < Math.max(1, n)) throw new IllegalArgumentException("ldc " + ldc + " too small for n=" + n);
        return new GemmPlan(transB, transA, n, m, k, ldb, lda, ldc);
    }
}
