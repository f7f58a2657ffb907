package io.lowbit.quant.linalg;

import io.lowbit.tensor.cpu.Parallel;

/**
 * Dense double-precision routines on n×n row-major matrices ({@code a[i*n + j]}). Inputs are never
 * modified; results are new arrays.
 */
public final class DenseLinalg {
    private DenseLinalg() {}

    private static void checkSquare(double[] a, int n, String what) {
        if (n < 1 || a.length != (long) n * n)
            throw new IllegalArgumentException(what + ": expected a " + n + "×" + n + " matrix (" + (long) n * n + " values), got " + a.length);
    }

    /**
     * Lower Cholesky factor L with A = L·Lᵀ of a symmetric positive definite A (only the lower triangle
     * of A is read). Throws naming the pivot when A is not positive definite.
     */
    public static double[] cholesky(double[] a, int n) {
        checkSquare(a, n, "cholesky");
        double[] l = new double[n * n];
        for (int j = 0; j < n; j++) {
            double d = a[j * n + j];
            for (int k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
            if (!(d > 0) || !Double.isFinite(d))
                throw new ArithmeticException("matrix is not positive definite: pivot " + j + " of " + n + " is " + d);
            double ljj = Math.sqrt(d);
            l[j * n + j] = ljj;
            int jj = j;
            // L[i][j] = (A[i][j] − Σ_k<j L[i][k]·L[j][k]) / L[j][j] for every i > j, independent across i
            Parallel.range(n - j - 1, 256, (lo, hi) -> {
                for (int i = jj + 1 + (int) lo; i < jj + 1 + hi; i++) {
                    double s = a[i * n + jj];
                    for (int k = 0; k < jj; k++) s -= l[i * n + k] * l[jj * n + k];
                    l[i * n + jj] = s / ljj;
                }
            });
        }
        return l;
    }

    /** Inverse of a lower-triangular L (nonzero diagonal), itself lower triangular. */
    public static double[] invertLower(double[] l, int n) {
        checkSquare(l, n, "invertLower");
        for (int i = 0; i < n; i++)
            if (l[i * n + i] == 0) throw new ArithmeticException("triangular matrix is singular: diagonal " + i + " is 0");
        double[] inv = new double[n * n];
        // column j of L⁻¹ solves L·x = e_j by forward substitution; columns are independent
        Parallel.range(n, 16, (lo, hi) -> {
            for (int j = (int) lo; j < hi; j++) {
                inv[j * n + j] = 1.0 / l[j * n + j];
                for (int i = j + 1; i < n; i++) {
                    double s = 0;
                    for (int k = j; k < i; k++) s -= l[i * n + k] * inv[k * n + j];
                    inv[i * n + j] = s / l[i * n + i];
                }
            }
        });
        return inv;
    }

    /** Solves L·x = b for lower-triangular L (forward substitution). */
    public static double[] solveLower(double[] l, int n, double[] b) {
        checkSquare(l, n, "solveLower");
        if (b.length != n) throw new IllegalArgumentException("solveLower: right-hand side has " + b.length + " values, matrix is " + n + "×" + n);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i * n + k] * x[k];
            x[i] = s / l[i * n + i];
        }
        return x;
    }

    /** Solves U·x = b for upper-triangular U (back substitution). */
    public static double[] solveUpper(double[] u, int n, double[] b) {
        checkSquare(u, n, "solveUpper");
        if (b.length != n) throw new IllegalArgumentException("solveUpper: right-hand side has " + b.length + " values, matrix is " + n + "×" + n);
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = b[i];
            for (int k = i + 1; k < n; k++) s -= u[i * n + k] * x[k];
            x[i] = s / u[i * n + i];
        }
        return x;
    }

    /** Transpose of an n×n matrix. */
    public static double[] transpose(double[] a, int n) {
        checkSquare(a, n, "transpose");
        double[] t = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
        return t;
    }

    /** Product A·B of n×n matrices. */
    public static double[] multiply(double[] a, double[] b, int n) {
        checkSquare(a, n, "multiply");
        checkSquare(b, n, "multiply");
        double[] c = new double[n * n];
        Parallel.range(n, 16, (lo, hi) -> {
            for (int i = (int) lo; i < hi; i++)
                for (int k = 0; k < n; k++) {
                    double aik = a[i * n + k];
                    if (aik == 0) continue;
                    for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
                }
        });
        return c;
    }

    /**
     * The upper-triangular U with H⁻¹ = Uᵀ·U (GPTQ step 5: chol(H) → invert → upper Cholesky):
     * L = chol(H), H⁻¹ = L⁻ᵀ·L⁻¹, U = chol(H⁻¹)ᵀ.
     */
    public static double[] upperCholeskyOfInverse(double[] h, int n) {
        double[] li = invertLower(cholesky(h, n), n);
        double[] hinv = new double[n * n];
        // H⁻¹[i][j] = Σ_{k ≥ max(i,j)} L⁻¹[k][i]·L⁻¹[k][j]; fill the lower triangle (all cholesky reads)
        Parallel.range(n, 16, (lo, hi) -> {
            for (int i = (int) lo; i < hi; i++)
                for (int j = 0; j <= i; j++) {
                    double s = 0;
                    for (int k = i; k < n; k++) s += li[k * n + i] * li[k * n + j];
                    hinv[i * n + j] = s;
                }
        });
        return transpose(cholesky(hinv, n), n);
    }
}
