package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/**
 * The row-major → column-major mapping, checked without a GPU: the plan is executed by a plain
 * column-major GEMM written the way the BLAS reference defines it, and must give the row-major product.
 */
class GemmPlanTest {
    // BLAS reference semantics: C(M×N) = op(X)·op(Y), all column-major; element (i,j) of a ld-matrix is at i + j·ld
    private static void columnMajorGemm(boolean tx, boolean ty, int m, int n, int k, float[] x, int ldx, float[] y, int ldy, float[] c, int ldc) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double xv = tx ? x[p + i * ldx] : x[i + p * ldx];
                    double yv = ty ? y[j + p * ldy] : y[p + j * ldy];
                    s += xv * yv;
                }
                c[i + j * ldc] = (float) s;
            }
    }

    @Test
    void planComputesTheRowMajorProduct() {
        int[] sizes = {1, 7, 31, 33};
        java.util.Random r = new java.util.Random(7);
        for (int m : sizes)
            for (int n : new int[] {1, 5, 33})
                for (int k : new int[] {1, 7, 65})
                    for (boolean ta : new boolean[] {false, true})
                        for (boolean tb : new boolean[] {false, true}) {
                            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
                            float[] a = new float[(ta ? k : m) * lda], b = new float[(tb ? n : k) * ldb];
                            for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
                            for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
                            float[] c = new float[m * ldc];
                            GemmPlan p = GemmPlan.rowMajor(ta, tb, m, n, k, lda, ldb, ldc);
                            columnMajorGemm(p.transFirst(), p.transSecond(), p.m(), p.n(), p.k(), b, p.ldFirst(), a, p.ldSecond(), c, p.ldc());
                            for (int i = 0; i < m; i++)
                                for (int j = 0; j < n; j++) {
                                    double s = 0;
                                    for (int q = 0; q < k; q++)
                                        s += (double) (ta ? a[q * lda + i] : a[i * lda + q]) * (tb ? b[j * ldb + q] : b[q * ldb + j]);
                                    assertEquals(s, c[i * ldc + j], 1e-5, "m=" + m + " n=" + n + " k=" + k + " ta=" + ta + " tb=" + tb + " at " + i + "," + j);
                                }
                        }
    }

    @Test
    void badLeadingDimensionsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmPlan.rowMajor(false, false, 4, 5, 6, 5, 5, 5));
        assertTrue(e.getMessage().startsWith("lda 5 too small for m×k A"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GemmPlan.rowMajor(false, true, 4, 5, 6, 6, 5, 5));
        assertThrows(IllegalArgumentException.class, () -> GemmPlan.rowMajor(false, false, 4, 5, 6, 6, 5, 4));
    }
}
