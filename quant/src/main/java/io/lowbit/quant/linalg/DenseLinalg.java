package io.lowbit.quant.linalg;

import io.lowbit.tensor.cpu.Parallel;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense double-precision routines on n×n row-major matrices ({@code a[i*n + j]}). Inputs are never
 * modified; results are new arrays.
 */
public final class DenseLinalg {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    private DenseLinalg() {}

    /** Σ_{k < len} a[aOff + k]·b[bOff + k] (Vector API). */
    public static double dot(double[] a, int aOff, double[] b, int bOff, int len) {
        DoubleVector acc = DoubleVector.zero(D);
        int k = 0, l = D.length();
        for (; k + l <= len; k += l) acc = DoubleVector.fromArray(D, a, aOff + k).fma(DoubleVector.fromArray(D, b, bOff + k), acc);
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; k < len; k++) s += a[aOff + k] * b[bOff + k];
        return s;
    }

    /** y[yOff + k] += alpha·x[xOff + k] for k < len (Vector API). */
    public static void axpy(double alpha, double[] x, int xOff, double[] y, int yOff, int len) {
        int k = 0, l = D.length();
        DoubleVector av = DoubleVector.broadcast(D, alpha);
        for (; k + l <= len; k += l)
            DoubleVector.fromArray(D, x, xOff + k).fma(av, DoubleVector.fromArray(D, y, yOff + k)).intoArray(y, yOff + k);
        for (; k < len; k++) y[yOff + k] += alpha * x[xOff + k];
    }

    private static void checkSquare(double[] a, int n, String what) {
        if (n < 1 || a.length != (long) n * n)
            throw new IllegalArgumentException(what + ": expected a " + n + "×" + n + " matrix (" + (long) n * n + " values), got " + a.length);
    }

    /**
     * C −= A·B for row-major blocks: C is rows×cols (leading dimension ldc), A rows×k (lda), B k×cols (ldb),
     * each starting at its offset. 256×256 tiles of B stay in cache while 4 rows of C at a time are
     * updated in registers (4 rows × 2 vectors), so every loaded element of B serves four rows.
     */
    public static void subtractProduct(double[] c, int cOff, int ldc, double[] a, int aOff, int lda,
                                       double[] b, int bOff, int ldb, int rows, int k, int cols) {
        for (int j0 = 0; j0 < cols; j0 += 256)
            for (int p0 = 0; p0 < k; p0 += 256) // a 256×256 tile of B (512 KiB) is reused by every row
                subtractTile(c, cOff, ldc, a, aOff, lda, b, bOff, ldb, rows, p0, Math.min(k, p0 + 256), j0, Math.min(cols, j0 + 256));
    }

    /** C[:, j0:j1] −= A[:, p0:p1]·B[p0:p1, j0:j1]. */
    private static void subtractTile(double[] c, int cOff, int ldc, double[] a, int aOff, int lda, double[] b, int bOff, int ldb,
                                     int rows, int p0, int p1, int j0, int j1) {
        int v = D.length();
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int c0 = cOff + r * ldc, a0 = aOff + r * lda;
            int j = j0;
            for (; j + 2 * v <= j1; j += 2 * v) {
                DoubleVector x0 = DoubleVector.fromArray(D, c, c0 + j), y0 = DoubleVector.fromArray(D, c, c0 + j + v);
                DoubleVector x1 = DoubleVector.fromArray(D, c, c0 + ldc + j), y1 = DoubleVector.fromArray(D, c, c0 + ldc + j + v);
                DoubleVector x2 = DoubleVector.fromArray(D, c, c0 + 2 * ldc + j), y2 = DoubleVector.fromArray(D, c, c0 + 2 * ldc + j + v);
                DoubleVector x3 = DoubleVector.fromArray(D, c, c0 + 3 * ldc + j), y3 = DoubleVector.fromArray(D, c, c0 + 3 * ldc + j + v);
                for (int p = p0; p < p1; p++) {
                    int bp = bOff + p * ldb + j;
                    DoubleVector u = DoubleVector.fromArray(D, b, bp), w = DoubleVector.fromArray(D, b, bp + v);
                    DoubleVector e0 = DoubleVector.broadcast(D, -a[a0 + p]), e1 = DoubleVector.broadcast(D, -a[a0 + lda + p]);
                    DoubleVector e2 = DoubleVector.broadcast(D, -a[a0 + 2 * lda + p]), e3 = DoubleVector.broadcast(D, -a[a0 + 3 * lda + p]);
                    x0 = u.fma(e0, x0);
                    y0 = w.fma(e0, y0);
                    x1 = u.fma(e1, x1);
                    y1 = w.fma(e1, y1);
                    x2 = u.fma(e2, x2);
                    y2 = w.fma(e2, y2);
                    x3 = u.fma(e3, x3);
                    y3 = w.fma(e3, y3);
                }
                x0.intoArray(c, c0 + j);
                y0.intoArray(c, c0 + j + v);
                x1.intoArray(c, c0 + ldc + j);
                y1.intoArray(c, c0 + ldc + j + v);
                x2.intoArray(c, c0 + 2 * ldc + j);
                y2.intoArray(c, c0 + 2 * ldc + j + v);
                x3.intoArray(c, c0 + 3 * ldc + j);
                y3.intoArray(c, c0 + 3 * ldc + j + v);
            }
            for (int rr = r; rr < r + 4; rr++) // columns left over in this tile
                for (int p = p0; p < p1; p++) {
                    double e = a[aOff + rr * lda + p];
                    if (e != 0) axpy(-e, b, bOff + p * ldb + j, c, cOff + rr * ldc + j, j1 - j);
                }
        }
        for (; r < rows; r++) // rows left over
            for (int p = p0; p < p1; p++) {
                double e = a[aOff + r * lda + p];
                if (e != 0) axpy(-e, b, bOff + p * ldb + j0, c, cOff + r * ldc + j0, j1 - j0);
            }
    }

    /** Block size of the blocked factorization and inverse (a panel of NB doubles per row stays in cache). */
    private static final int NB = 64;

    /**
     * Lower Cholesky factor L with A = L·Lᵀ of a symmetric positive definite A (only the lower triangle
     * of A is read). Throws naming the pivot when A is not positive definite.
     *
     * <p>Right-looking and blocked: for each panel of NB columns, factor its diagonal block, solve the
     * rows below it, then subtract the panel's contribution from the trailing lower triangle
     * (A[i][j] −= Σ_k L[i][k]·L[j][k] over the panel's k), rows in parallel.
     */
    public static double[] cholesky(double[] a, int n) {
        checkSquare(a, n, "cholesky");
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) System.arraycopy(a, i * n, l, i * n, i + 1);
        for (int k0 = 0; k0 < n; k0 += NB) {
            int k1 = Math.min(n, k0 + NB);
            // diagonal block, unblocked (earlier panels are already subtracted)
            for (int j = k0; j < k1; j++) {
                double d = l[j * n + j] - dot(l, j * n + k0, l, j * n + k0, j - k0);
                if (!(d > 0) || !Double.isFinite(d))
                    throw new ArithmeticException("matrix is not positive definite: pivot " + j + " of " + n + " is " + d);
                double ljj = Math.sqrt(d);
                l[j * n + j] = ljj;
                for (int i = j + 1; i < k1; i++) l[i * n + j] = (l[i * n + j] - dot(l, i * n + k0, l, j * n + k0, j - k0)) / ljj;
            }
            int kk0 = k0, kk1 = k1;
            Parallel.range(n - k1, 16, (lo, hi) -> { // panel rows below the diagonal block
                for (int i = kk1 + (int) lo; i < kk1 + hi; i++) {
                    int row = i * n;
                    for (int j = kk0; j < kk1; j++) l[row + j] = (l[row + j] - dot(l, row + kk0, l, j * n + kk0, j - kk0)) / l[j * n + j];
                }
            });
            if (k1 == n) break;
            // trailing update A[k1:, k1:] −= P·Pᵀ (P = the panel's rows below), as a blocked product by row
            // blocks; each block also fills a few entries above the diagonal, which are cleared at the end
            int m = n - k1;
            double[] pt = new double[(k1 - k0) * m]; // Pᵀ
            for (int i = k1; i < n; i++)
                for (int k = k0; k < k1; k++) pt[(k - k0) * m + (i - k1)] = l[i * n + k];
            int blocks = (m + NB - 1) / NB;
            Parallel.range(blocks, 1, (lo, hi) -> {
                for (int q = (int) lo; q < hi; q++) {
                    int b = q % 2 == 0 ? blocks - 1 - q / 2 : q / 2; // zig-zag: the long late blocks spread over chunks
                    int i0 = kk1 + b * NB, i1 = Math.min(n, i0 + NB);
                    subtractProduct(l, i0 * n + kk1, n, l, i0 * n + kk0, n, pt, 0, m, i1 - i0, kk1 - kk0, i1 - kk1);
                }
            });
        }
        for (int i = 0; i < n; i++) java.util.Arrays.fill(l, i * n + i + 1, (i + 1) * n, 0.0);
        return l;
    }

    /**
     * Inverse of a lower-triangular L (nonzero diagonal), itself lower triangular. Blocks of NB columns of
     * L⁻¹ are independent (L·X = I restricted to those columns) and run in parallel; within a block,
     * row i is e_i − Σ_{k<i} L[i][k]·X[k] over the block's columns, divided by L[i][i].
     */
    public static double[] invertLower(double[] l, int n) {
        checkSquare(l, n, "invertLower");
        for (int i = 0; i < n; i++)
            if (l[i * n + i] == 0) throw new ArithmeticException("triangular matrix is singular: diagonal " + i + " is 0");
        double[] inv = new double[n * n];
        int blocks = (n + NB - 1) / NB;
        Parallel.range(blocks, 1, (lo, hi) -> {
            for (int q = (int) lo; q < hi; q++) {
                int b = q % 2 == 0 ? q / 2 : blocks - 1 - q / 2; // zig-zag: costly early blocks spread over chunks
                int j0 = b * NB, j1 = Math.min(n, j0 + NB), w = j1 - j0;
                double[] x = new double[(n - j0) * w]; // X[i − j0][c] for rows i ≥ j0
                for (int i = j0; i < j1; i++) x[(i - j0) * w + i - j0] = 1;
                for (int i0 = j0; i0 < n; i0 += NB) {
                    int i1 = Math.min(n, i0 + NB);
                    // rows i0..i1: subtract the finished rows j0..i0 as one blocked product, then the block itself
                    subtractProduct(x, (i0 - j0) * w, w, l, i0 * n + j0, n, x, 0, w, i1 - i0, i0 - j0, w);
                    for (int i = i0; i < i1; i++) {
                        int xi = (i - j0) * w;
                        for (int k = i0; k < i; k++) {
                            double lik = l[i * n + k];
                            if (lik != 0) axpy(-lik, x, (k - j0) * w, x, xi, w);
                        }
                        double d = 1.0 / l[i * n + i];
                        for (int c = 0; c < w; c++) inv[i * n + j0 + c] = x[xi + c] *= d;
                    }
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
     * The upper-triangular U with H⁻¹ = Uᵀ·U, positive diagonal: the upper Cholesky factor of H⁻¹ that GPTQ
     * step 5 asks for. Computed without forming H⁻¹: with J the reversal permutation, chol(J·H·J) = L′ gives
     * H = V·Vᵀ with V = J·L′·J upper triangular, so H⁻¹ = (V⁻¹)ᵀ·V⁻¹ and, by uniqueness of the Cholesky
     * factor, U = V⁻¹ = J·L′⁻¹·J. One factorization and one triangular inverse instead of the reference
     * route's two factorizations, an inverse and a product; {@link #upperCholeskyOfInverseReference}
     * follows the spec's route literally and the tests check both agree.
     */
    public static double[] upperCholeskyOfInverse(double[] h, int n) {
        checkSquare(h, n, "upperCholeskyOfInverse");
        double[] li = invertLower(cholesky(reverse(h, n), n), n);
        return reverse(li, n);
    }

    /** J·A·J: rows and columns in reverse order. */
    private static double[] reverse(double[] a, int n) {
        double[] r = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) r[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
        return r;
    }

    /**
     * The spec's route to the same U: L = chol(H), H⁻¹ = L⁻ᵀ·L⁻¹, U = chol(H⁻¹)ᵀ (slower; kept as the
     * reference the fast route is tested against).
     */
    public static double[] upperCholeskyOfInverseReference(double[] h, int n) {
        double[] m = transpose(invertLower(cholesky(h, n), n), n); // M = L⁻ᵀ, upper triangular
        double[] hinv = new double[n * n];
        // H⁻¹ = M·Mᵀ: H⁻¹[i][j] = Σ_{k ≥ max(i,j)} M[i][k]·M[j][k]; the lower triangle is all cholesky reads
        Parallel.range(n, 8, (lo, hi) -> {
            for (int i = (int) lo; i < hi; i++)
                for (int j = 0; j <= i; j++) hinv[i * n + j] = dot(m, i * n + i, m, j * n + i, n - i);
        });
        return transpose(cholesky(hinv, n), n);
    }
}
