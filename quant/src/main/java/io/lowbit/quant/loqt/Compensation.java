package io.lowbit.quant.loqt;

import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.Quantizer;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.linalg.Svd;
import java.util.Arrays;

/**
 * LoQT's error compensation (spec "Update steps", step 4): after a merge, find a quantized weight Q and a
 * trainable factor such that deq(Q) + s·(low-rank term through the fixed projection P̃) is as close as
 * possible to the merged full-precision weight W_fp.
 * <pre>
 *   Ŵ ← W_fp
 *   repeat C times:  Q_c = NF4(Ŵ)
 *                    factor_c = P̃⁺-solve of (W_fp − deq(Q_c)) / s      (pseudo-inverse on P's side)
 *                    Ŵ = W_fp − s·lowRank(P̃, factor_c)
 *   keep the (Q_c, factor_c) with the smallest ‖W_fp − (deq(Q_c) + s·lowRank(P̃, factor_c))‖_F
 * </pre>
 * With C = 0: Q = NF4(W_fp) and factor = 0. Orientation ({@link ProjectionSide}):
 * <ul>
 *   <li>{@code INPUT} (in ≤ out): A = P̃ (r×in) fixed, B (out×r) trainable, lowRank = B·P̃,
 *       B_c = (W_fp − deq(Q_c))·P̃⁺ / s.</li>
 *   <li>{@code OUTPUT} (in &gt; out): B = P̃ (out×r) fixed, A (r×in) trainable, lowRank = P̃·A,
 *       A_c = P̃⁺·(W_fp − deq(Q_c)) / s.</li>
 * </ul>
 * (The spec's parenthetical names the two solves the other way round; the formulas above follow its
 * orientation rule — the fixed factor is P and the solve is on P's side — which is what makes the shapes work.)
 */
public final class Compensation {
    private Compensation() {}

    /** Which side of W the fixed projection P sits on (spec "Parametrization"). */
    public enum ProjectionSide {
        /** in ≤ out: A = P (r×in) fixed, B (out×r) trainable. */
        INPUT,
        /** in &gt; out: B = P (out×r) fixed, A (r×in) trainable. */
        OUTPUT;

        /** The side LoQT uses for a weight [out, in]: P on the smaller dimension. */
        public static ProjectionSide forShape(int out, int in) {
            return in <= out ? INPUT : OUTPUT;
        }
    }

    /**
     * The chosen pair. The caller owns {@link #quantized} and {@link #factor} (F32, category ADAPTERS).
     *
     * @param errors ‖W_fp − (deq(Q_c) + s·lowRank)‖_F of every iteration c = 1..C (for C = 0: the one plain requantization)
     * @param best   index into {@code errors} of the kept pair
     */
    public record Result(QuantizedTensor quantized, Tensor factor, double[] errors, int best) {
        /** The error of the kept pair. */
        public double error() {
            return errors[best];
        }
    }

    /**
     * Runs step 4 for one layer.
     *
     * @param wfp       merged weight W_fp [out, in] (any float dtype; read only)
     * @param pTilde    dequantized projection P̃: [r, in] for INPUT, [out, r] for OUTPUT
     * @param s         adapter scale s (used directly)
     * @param iters     C ≥ 0
     * @param quantizer the weight quantizer (NF4)
     */
    public static Result run(Tensor wfp, Tensor pTilde, ProjectionSide side, double s, int iters, Quantizer quantizer) {
        if (wfp.dim() != 2) throw new IllegalArgumentException("W_fp must be [out, in], got " + Arrays.toString(wfp.shape()));
        int out = wfp.size(0), in = wfp.size(1);
        int r = side == ProjectionSide.INPUT ? pTilde.size(0) : pTilde.size(1);
        int[] expectP = side == ProjectionSide.INPUT ? new int[] {r, in} : new int[] {out, r};
        if (pTilde.dim() != 2 || !Arrays.equals(pTilde.shape(), expectP))
            throw new IllegalArgumentException("projection " + Arrays.toString(pTilde.shape()) + " does not fit W_fp "
                    + Arrays.toString(wfp.shape()) + " on the " + side + " side (expected " + Arrays.toString(expectP) + ")");
        if (iters < 0) throw new IllegalArgumentException("compensation iterations must be >= 0, got " + iters);
        if (!(s != 0 && Double.isFinite(s))) throw new IllegalArgumentException("adapter scale s must be finite and non-zero, got " + s);
        int[] factorShape = side == ProjectionSide.INPUT ? new int[] {out, r} : new int[] {r, in};
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor w = wfp.to(DType.F32);
            if (iters == 0) { // C = 0 ⇒ Q = NF4(W_fp), factor = 0
                QuantizedTensor q = quantizer.quantize(w);
                double err;
                try (Tensor d = q.dequantize()) {
                    err = frobeniusDiff(w, d);
                }
                Tensor f = scope.keep(Tensor.zeros(DType.F32, MemoryCategory.ADAPTERS, factorShape));
                keepComponents(scope, q);
                return new Result(q, f, new double[] {err}, 0);
            }
            Tensor p = pTilde.to(DType.F32);
            Tensor pinv = pinvTensor(p); // INPUT: [in, r]; OUTPUT: [r, out]
            Tensor target = w; // Ŵ
            QuantizedTensor bestQ = null;
            Tensor bestF = null;
            double[] errors = new double[iters];
            int best = -1;
            for (int c = 0; c < iters; c++) {
                QuantizedTensor qc = quantizer.quantize(target); // Q_c = NF4(Ŵ)
                Tensor factor, low;
                double err;
                try (MemoryScope it = MemoryScope.open(); Tensor d = qc.dequantize()) {
                    Tensor resid = w.sub(d); // W_fp − deq(Q_c)
                    factor = side == ProjectionSide.INPUT ? resid.matmul(pinv) : pinv.matmul(resid);
                    factor.mulInPlace(1.0 / s);
                    low = side == ProjectionSide.INPUT ? factor.matmul(p) : p.matmul(factor);
                    low.mulInPlace(s); // s·lowRank(P̃, factor_c)
                    err = frobeniusDiff(resid, low); // ‖W_fp − deq(Q_c) − s·lowRank‖_F
                    it.keep(factor);
                    Tensor next = w.sub(low); // Ŵ = W_fp − s·lowRank
                    it.keep(next);
                    if (target != w) target.close();
                    target = next;
                }
                errors[c] = err;
                if (best < 0 || err < errors[best]) {
                    if (bestQ != null) bestQ.close();
                    if (bestF != null) bestF.close();
                    bestQ = qc;
                    bestF = factor;
                    best = c;
                } else {
                    qc.close();
                    factor.close();
                }
            }
            scope.keep(bestF.label(MemoryCategory.ADAPTERS));
            keepComponents(scope, bestQ);
            return new Result(bestQ, bestF, errors, best);
        }
    }

    private static void keepComponents(MemoryScope scope, QuantizedTensor q) {
        for (Tensor t : q.components().values()) scope.keep(t);
    }

    /** ‖a − b‖_F in double precision. */
    public static double frobeniusDiff(Tensor a, Tensor b) {
        float[] x = a.contiguous().toFloatArray(), y = b.contiguous().toFloatArray();
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (double) x[i] - y[i];
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    private static Tensor pinvTensor(Tensor p) {
        int rows = p.size(0), cols = p.size(1);
        double[] m = p.contiguous().toDoubleArray();
        Tensor t = Tensor.of(pinv(m, rows, cols), cols, rows);
        try (t) {
            return t.to(DType.F32);
        }
    }

    /**
     * Moore–Penrose pseudo-inverse of a row-major rows×cols matrix M (cols×rows result), through the Gram
     * matrix of the smaller side: M⁺ = Mᵀ(M·Mᵀ)⁺ when rows ≤ cols, (Mᵀ·M)⁺·Mᵀ otherwise. The Gram
     * matrix is pseudo-inverted by its SVD with singular values below 1e-10·σ_max treated as zero, so a
     * rank-deficient projection (a gradient of rank &lt; r) gives zero rows instead of infinities.
     */
    public static double[] pinv(double[] m, int rows, int cols) {
        if (m.length != (long) rows * cols) throw new IllegalArgumentException("matrix of " + m.length + " values is not " + rows + "x" + cols);
        boolean wide = rows <= cols;
        int k = wide ? rows : cols;
        double[] mt = Svd.transpose(m, rows, cols);
        double[] gram = wide ? Svd.matmul(m, mt, rows, cols, rows) : Svd.matmul(mt, m, cols, rows, cols); // k×k
        double[] gInv = symmetricPinv(gram, k);
        return wide ? Svd.matmul(mt, gInv, cols, rows, rows) : Svd.matmul(gInv, mt, cols, cols, rows);
    }

    private static double[] symmetricPinv(double[] g, int k) {
        Svd.Result f = Svd.jacobi(g, k, k);
        double smax = 0;
        for (double v : f.s()) smax = Math.max(smax, v);
        double cut = 1e-10 * smax;
        double[] out = new double[k * k];
        for (int p = 0; p < f.k(); p++) {
            double sv = f.s()[p];
            if (!(sv > cut)) continue;
            double inv = 1 / sv;
            for (int i = 0; i < k; i++) {
                double vi = f.vt()[p * k + i] * inv; // G⁺ = V·S⁻¹·Uᵀ
                if (vi == 0) continue;
                for (int j = 0; j < k; j++) out[i * k + j] += vi * f.u()[j * f.k() + p];
            }
        }
        return out;
    }
}
