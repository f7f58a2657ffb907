package io.lowbit.tensor.linalg;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Rng;
import org.junit.jupiter.api.Test;

class SvdTest {
    /** A = U·diag(s)·Vᵀ from random orthonormal U (m×k), V (n×k) and the given singular values. */
    static double[] known(int m, int n, double[] s, long seed) {
        Rng rng = new Rng(seed);
        int k = s.length;
        double[] gu = new double[m * k], gv = new double[n * k];
        for (int i = 0; i < gu.length; i++) gu[i] = rng.nextGaussian();
        for (int i = 0; i < gv.length; i++) gv[i] = rng.nextGaussian();
        double[] u = Svd.orthonormalize(gu, m, k), v = Svd.orthonormalize(gv, n, k);
        double[] a = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double x = 0;
                for (int p = 0; p < k; p++) x += u[i * k + p] * s[p] * v[j * k + p];
                a[i * n + j] = x;
            }
        return a;
    }

    static double maxAbsDiff(double[] a, double[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    @Test
    void jacobiRecoversKnownSingularValuesTallAndWide() {
        double[] s = {9, 5, 3, 1, 0.5, 0.25, 0.1};
        for (int[] mn : new int[][] {{31, 7}, {7, 33}, {7, 7}}) {
            int m = mn[0], n = mn[1];
            double[] a = known(m, n, s, 3);
            Svd.Result r = Svd.jacobi(a, m, n);
            assertEquals(7, r.k());
            for (int i = 0; i < 7; i++) assertEquals(s[i], r.s()[i], 1e-12, "sigma_" + i + " for " + m + "x" + n);
            assertTrue(maxAbsDiff(a, r.reconstruct()) < 1e-12);
            // orthonormal U columns and V rows
            double[] utu = Svd.matmul(Svd.transpose(r.u(), m, 7), r.u(), 7, m, 7);
            double[] vvt = Svd.matmul(r.vt(), Svd.transpose(r.vt(), 7, n), 7, n, 7);
            for (int i = 0; i < 7; i++)
                for (int j = 0; j < 7; j++) {
                    assertEquals(i == j ? 1 : 0, utu[i * 7 + j], 1e-12);
                    assertEquals(i == j ? 1 : 0, vvt[i * 7 + j], 1e-12);
                }
        }
    }

    @Test
    void rankDeficientMatrixGetsZeroSingularValuesAndOrthonormalU() {
        double[] a = known(9, 5, new double[] {4, 2}, 11);
        Svd.Result r = Svd.jacobi(a, 9, 5);
        assertEquals(4, r.s()[0], 1e-12);
        assertEquals(2, r.s()[1], 1e-12);
        for (int i = 2; i < 5; i++) assertEquals(0, r.s()[i], 1e-12);
        double[] utu = Svd.matmul(Svd.transpose(r.u(), 9, 5), r.u(), 5, 9, 5);
        for (int i = 0; i < 5; i++) assertEquals(1, utu[i * 5 + i], 1e-9);
    }

    @Test
    void randomizedTopRMatchesTheLeadingSubspace() {
        int m = 120, n = 200, k = 40;
        double[] s = new double[k];
        for (int i = 0; i < k; i++) s[i] = Math.pow(0.8, i) * 10;
        double[] a = known(m, n, s, 5);
        Svd.Result r = Svd.topR(a, m, n, 8, 8, 3, 99);
        assertEquals(8, r.k());
        for (int i = 0; i < 8; i++) assertEquals(s[i], r.s()[i], 1e-6 * s[0], "sigma_" + i);
        // best rank-8 error equals sigma_8 in spectral norm; Frobenius error equals sqrt(sum_{i>=8} s_i^2)
        double[] rec = r.reconstruct();
        double err = 0, tail = 0;
        for (int i = 0; i < a.length; i++) err += (a[i] - rec[i]) * (a[i] - rec[i]);
        for (int i = 8; i < k; i++) tail += s[i] * s[i];
        assertEquals(Math.sqrt(tail), Math.sqrt(err), 1e-6 * Math.sqrt(tail));
    }

    @Test
    void shapeMismatchIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> Svd.jacobi(new double[5], 2, 3));
        assertTrue(e.getMessage().contains("2x3"));
    }
}
