package io.lowbit.tensor.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Single-precision GEMM on row-major data: C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ.
 * Offsets and leading dimensions are in floats. With beta = 0, C is not read (NaNs in it are ignored).
 */
public final class Sgemm {
    private Sgemm() {}

    /**
     * @param transA A is stored k×m (lda ≥ m) instead of m×k (lda ≥ k)
     * @param transB B is stored n×k (ldb ≥ k) instead of k×n (ldb ≥ n)
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                             float beta, MemorySegment c, long cOff, int ldc) {
        Parallel.range(m, Math.max(1, 16384 / Math.max(1, (long) n * k / 64 + 1)), (lo, hi) -> {
            float[] row = new float[n];
            for (long i = lo; i < hi; i++) {
                java.util.Arrays.fill(row, 0f);
                for (int p = 0; p < k; p++) {
                    float av = a.getAtIndex(ValueLayout.JAVA_FLOAT, aOff + (transA ? p * (long) lda + i : i * lda + p));
                    for (int j = 0; j < n; j++)
                        row[j] += av * b.getAtIndex(ValueLayout.JAVA_FLOAT, bOff + (transB ? j * (long) ldb + p : p * (long) ldb + j));
                }
                for (int j = 0; j < n; j++) {
                    long ci = cOff + i * ldc + j;
                    float old = beta == 0f ? 0f : beta * c.getAtIndex(ValueLayout.JAVA_FLOAT, ci);
                    c.setAtIndex(ValueLayout.JAVA_FLOAT, ci, alpha * row[j] + old);
                }
            }
        });
    }
}
