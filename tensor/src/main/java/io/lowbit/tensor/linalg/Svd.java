package io.lowbit.tensor.linalg;

import io.lowbit.tensor.Rng;

/**
 * Singular value decompositions in double precision on row-major {@code double[]} matrices.
 *
 * <ul>
 *   <li>{@link #jacobi}: the full thin SVD by one-sided Jacobi rotations (Hestenes): orthogonalize the
 *       columns of A·V by plane rotations until every pair is orthogonal; singular values are the column
 *       norms. Accurate to working precision; cost O(m·n²) per sweep, for small matrices.</li>
 *   <li>{@link #topR}: the leading r singular triplets by randomized subspace iteration (Halko, Martinsson
 *       &amp; Tropp 2011, Alg. 4.4): Y = (A·Aᵀ)^q·A·Ω with QR re-orthogonalization after every product,
 *       then the exact SVD of the small projected matrix Qᵀ·A. Used for LoQT's projection P from a
 *       layer's gradient.</li>
 * </ul>
 */
public final class Svd {
    /** A ≈ U·diag(S)·Vᵀ with U m×k, S descending (length k), Vᵀ k×n, all row-major. */
    public record Result(int m, int n, int k, double[] u, double[] s, double[] vt) {
        /** U·diag(S)·Vᵀ as a row-major m×n matrix. */
        public double[] reconstruct() {
            double[] a = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++) {
                    double us = u[i * k + p] * s[p];
                    if (us == 0) continue;
                    for (int j = 0; j < n; j++) a[i * n + j] += us * vt[p * n + j];
                }
            return a;
        }
    }

    private Svd() {}

    /** Thin SVD of an m×n matrix by one-sided Jacobi; k = min(m, n). */
    public static Result jacobi(double[] a, int m, int n) {
        if (a.length != (long) m * n) throw new IllegalArgumentException("matrix of " + a.length + " values is not " + m + "x" + n);
        if (m < n) { // work on the transpose so columns are the short side
            Result t = jacobi(transpose(a, m, n), n, m);
            // Aᵀ = U' S V'ᵀ  =>  A = V' S U'ᵀ
            return new Result(m, n, t.k, transpose(t.vt, t.k, m), t.s, transpose(t.u, n, t.k));
        }
        double[] w = a.clone(); // m×n, columns get orthogonalized
        double[] v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        for (int sweep = 0; sweep < 60; sweep++) {
            double off = 0;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++) {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < m; i++) {
                        double x = w[i * n + p], y = w[i * n + q];
                        alpha += x * x;
                        beta += y * y;
                        gamma += x * y;
                    }
                    if (gamma == 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
                    off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    if (zeta == 0) t = 1;
                    double c = 1 / Math.sqrt(1 + t * t), s = c * t;
                    for (int i = 0; i < m; i++) {
                        double x = w[i * n + p], y = w[i * n + q];
                        w[i * n + p] = c * x - s * y;
                        w[i * n + q] = s * x + c * y;
                    }
                    for (int i = 0; i < n; i++) {
                        double x = v[i * n + p], y = v[i * n + q];
                        v[i * n + p] = c * x - s * y;
                        v[i * n + q] = s * x + c * y;
                    }
                }
            if (off <= 1e-15) break;
        }
        // singular values = column norms; sort descending
        double[] sv = new double[n];
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) {
            double ss = 0;
            for (int i = 0; i < m; i++) ss += w[i * n + j] * w[i * n + j];
            sv[j] = Math.sqrt(ss);
            order[j] = j;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(sv[y], sv[x]));
        double[] u = new double[m * n], s = new double[n], vt = new double[n * n];
        for (int r = 0; r < n; r++) {
            int j = order[r];
            s[r] = sv[j];
            for (int i = 0; i < m; i++) u[i * n + r] = sv[j] > 0 ? w[i * n + j] / sv[j] : 0;
            for (int i = 0; i < n; i++) vt[r * n + i] = v[i * n + j];
        }
        fillNullColumns(u, m, n, s);
        return new Result(m, n, n, u, s, vt);
    }

    // columns of U for zero singular values: complete to an orthonormal set (Gram-Schmidt on unit vectors)
    private static void fillNullColumns(double[] u, int m, int k, double[] s) {
        for (int r = 0; r < k; r++) {
            if (s[r] > 0) continue;
            for (int e = 0; e < m; e++) {
                double[] c = new double[m];
                c[e] = 1;
                for (int q = 0; q < k; q++) {
                    if (q == r || (s[q] == 0 && q > r)) continue;
                    double d = 0;
                    for (int i = 0; i < m; i++) d += u[i * k + q] * c[i];
                    for (int i = 0; i < m; i++) c[i] -= d * u[i * k + q];
                }
                double nrm = 0;
                for (double x : c) nrm += x * x;
                nrm = Math.sqrt(nrm);
                if (nrm > 1e-6) {
                    for (int i = 0; i < m; i++) u[i * k + r] = c[i] / nrm;
                    break;
                }
            }
        }
    }

    /**
     * Leading {@code r} singular triplets of an m×n matrix by randomized subspace iteration with
     * {@code oversample} extra columns and {@code iters} power iterations (QR after every product).
     */
    public static Result topR(double[] a, int m, int n, int r, int oversample, int iters, long seed) {
        if (a.length != (long) m * n) throw new IllegalArgumentException("matrix of " + a.length + " values is not " + m + "x" + n);
        r = Math.min(r, Math.min(m, n));
        int l = Math.min(Math.min(m, n), r + oversample);
        if (l >= Math.min(m, n)) { // the sketch is the whole space: exact SVD is cheaper
            Result f = jacobi(a, m, n);
            return truncate(f, r);
        }
        Rng rng = new Rng(seed);
        double[] omega = new double[n * l];
        for (int i = 0; i < omega.length; i++) omega[i] = rng.nextGaussian();
        double[] q = orthonormalize(matmul(a, omega, m, n, l), m, l); // m×l
        double[] at = transpose(a, m, n);
        for (int it = 0; it < iters; it++) {
            double[] z = orthonormalize(matmul(at, q, n, m, l), n, l); // n×l
            q = orthonormalize(matmul(a, z, m, n, l), m, l);
        }
        double[] b = matmul(transpose(q, m, l), a, l, m, n); // l×n
        Result small = jacobi(b, l, n); // B = Ub S Vt
        double[] u = matmul(q, small.u, m, l, small.k); // m×k
        return truncate(new Result(m, n, small.k, u, small.s, small.vt), r);
    }

    private static Result truncate(Result f, int r) {
        if (r >= f.k) return f;
        double[] u = new double[f.m * r], vt = new double[r * f.n];
        for (int i = 0; i < f.m; i++) System.arraycopy(f.u, i * f.k, u, i * r, r);
        System.arraycopy(f.vt, 0, vt, 0, r * f.n);
        return new Result(f.m, f.n, r, u, java.util.Arrays.copyOf(f.s, r), vt);
    }

    /** Row-major C[m×n] = A[m×k]·B[k×n]. */
    public static double[] matmul(double[] a, double[] b, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) {
                double x = a[i * k + p];
                if (x == 0) continue;
                for (int j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
            }
        return c;
    }

    /** Row-major transpose of an m×n matrix. */
    public static double[] transpose(double[] a, int m, int n) {
        double[] t = new double[a.length];
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
        return t;
    }

    /** Orthonormal columns spanning the columns of an m×l matrix (modified Gram–Schmidt, twice). */
    static double[] orthonormalize(double[] y, int m, int l) {
        double[] q = y.clone();
        for (int j = 0; j < l; j++) {
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < j; p++) {
                    double d = 0;
                    for (int i = 0; i < m; i++) d += q[i * l + p] * q[i * l + j];
                    for (int i = 0; i < m; i++) q[i * l + j] -= d * q[i * l + p];
                }
            double nrm = 0;
            for (int i = 0; i < m; i++) nrm += q[i * l + j] * q[i * l + j];
            nrm = Math.sqrt(nrm);
            if (nrm < 1e-300) continue; // rank-deficient sketch: leave a zero column
            for (int i = 0; i < m; i++) q[i * l + j] /= nrm;
        }
        return q;
    }
}
