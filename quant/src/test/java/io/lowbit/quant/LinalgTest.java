package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.linalg.DenseLinalg;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class LinalgTest {
    /** A = B·Bᵀ + n·I with Gaussian B: symmetric positive definite. */
    static double[] spd(long seed, int n) {
        Rng rng = new Rng(seed);
        double[] b = new double[n * n];
        for (int i = 0; i < b.length; i++) b[i] = rng.nextGaussian();
        double[] a = DenseLinalg.multiply(b, DenseLinalg.transpose(b, n), n);
        for (int i = 0; i < n; i++) a[i * n + i] += n;
        return a;
    }

    static void assertIdentity(double[] m, int n, double tol, String what) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) assertEquals(i == j ? 1 : 0, m[i * n + j], tol, what + " (" + i + ", " + j + ")");
    }

    @Test
    void exactTwoByTwo() {
        // [[4, 2], [2, 5]] = L·Lᵀ with L = [[2, 0], [1, 2]]
        assertArrayEquals(new double[] {2, 0, 1, 2}, DenseLinalg.cholesky(new double[] {4, 2, 2, 5}, 2), 0);
        assertArrayEquals(new double[] {0.5, 0, -0.25, 0.5}, DenseLinalg.invertLower(new double[] {2, 0, 1, 2}, 2), 0);
    }

    @Test
    void choleskyReconstructsTheMatrix() {
        for (int n : new int[] {1, 7, 33, 65, 130, 300}) {
            double[] a = spd(n, n), l = DenseLinalg.cholesky(a, n);
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) assertEquals(0, l[i * n + j], "upper part of L");
            double[] llt = DenseLinalg.multiply(l, DenseLinalg.transpose(l, n), n);
            for (int i = 0; i < n * n; i++) assertEquals(a[i], llt[i], 1e-10 * n, "L·Lᵀ, n=" + n);
        }
    }

    @Test
    void triangularInverseAndSolves() {
        for (int m : new int[] {1, 63, 130}) {
            double[] lm = DenseLinalg.cholesky(spd(m + 5, m), m);
            assertIdentity(DenseLinalg.multiply(lm, DenseLinalg.invertLower(lm, m), m), m, 1e-12, "L·L⁻¹, n=" + m);
            assertIdentity(DenseLinalg.multiply(DenseLinalg.invertLower(lm, m), lm, m), m, 1e-12, "L⁻¹·L, n=" + m);
        }
        int n = 31;
        double[] l = DenseLinalg.cholesky(spd(3, n), n);
        assertIdentity(DenseLinalg.multiply(l, DenseLinalg.invertLower(l, n), n), n, 1e-12, "L·L⁻¹");
        double[] b = new double[n];
        for (int i = 0; i < n; i++) b[i] = Math.sin(i + 1);
        double[] x = DenseLinalg.solveLower(l, n, b);
        double[] u = DenseLinalg.transpose(l, n), y = DenseLinalg.solveUpper(u, n, b);
        for (int i = 0; i < n; i++) {
            double s = 0, t = 0;
            for (int k = 0; k < n; k++) {
                s += l[i * n + k] * x[k];
                t += u[i * n + k] * y[k];
            }
            assertEquals(b[i], s, 1e-12, "L·x = b");
            assertEquals(b[i], t, 1e-12, "U·y = b");
        }
    }

    @Test
    void upperCholeskyOfInverse() {
        for (int n : new int[] {1, 7, 65, 130}) {
            double[] a = spd(100 + n, n), u = DenseLinalg.upperCholeskyOfInverse(a, n);
            for (int i = 0; i < n; i++) {
                assertTrue(u[i * n + i] > 0, "positive diagonal");
                for (int j = 0; j < i; j++) assertEquals(0, u[i * n + j], "lower part of U");
            }
            double[] utu = DenseLinalg.multiply(DenseLinalg.transpose(u, n), u, n);
            assertIdentity(DenseLinalg.multiply(utu, a, n), n, 1e-10, "UᵀU·A, n=" + n);
            // the spec's literal route (chol -> invert -> chol of the inverse) gives the same factor
            double[] ref = DenseLinalg.upperCholeskyOfInverseReference(a, n);
            for (int i = 0; i < n * n; i++) assertEquals(ref[i], u[i], 1e-12 * (1 + Math.abs(ref[i])), "U vs reference route, n=" + n);
        }
    }

    @Test
    void subtractProductMatchesTripleLoop() {
        Rng rng = new Rng(42);
        for (int[] d : new int[][] {{1, 1, 1}, {3, 7, 5}, {9, 13, 33}, {17, 128, 300}, {6, 300, 520}}) {
            int rows = d[0], k = d[1], cols = d[2], ldc = cols + 3, lda = k + 2, ldb = cols + 1;
            double[] c = new double[2 + rows * ldc], a = new double[1 + rows * lda], b = new double[4 + k * ldb];
            for (double[] m : new double[][] {c, a, b}) for (int i = 0; i < m.length; i++) m[i] = rng.nextGaussian();
            double[] ref = c.clone();
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a[1 + r * lda + p] * b[4 + p * ldb + j];
                    ref[2 + r * ldc + j] -= s;
                }
            DenseLinalg.subtractProduct(c, 2, ldc, a, 1, lda, b, 4, ldb, rows, k, cols);
            for (int i = 0; i < c.length; i++) assertEquals(ref[i], c[i], 1e-12 * (1 + Math.abs(ref[i])), "C − A·B " + java.util.Arrays.toString(d) + " at " + i);
        }
    }

    @Test
    void badInputIsRejected() {
        ArithmeticException e = assertThrows(ArithmeticException.class, () -> DenseLinalg.cholesky(new double[] {1, 2, 2, 1}, 2));
        assertTrue(e.getMessage().contains("pivot 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DenseLinalg.cholesky(new double[3], 2));
        assertThrows(ArithmeticException.class, () -> DenseLinalg.invertLower(new double[] {1, 0, 1, 0}, 2));
    }
}
