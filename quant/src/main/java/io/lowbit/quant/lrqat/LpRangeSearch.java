package io.lowbit.quant.lrqat;

import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * LR-QAT's range setting for the initial scale s0 (spec "Range setting for s0"): per channel (or group),
 * grid search over the clipping thresholds t_k = k·max|w|/100, k = 1..100, minimizing
 * Σ|w − q(w)|^p ("L_p", p = 4 by default) with q(w) = s·clamp(round(w/s), −2^(b−1), 2^(b−1)−1) and
 * s = t_k / (2^(b−1) − 1) (the threshold is the largest positive grid value, as in
 * {@link io.lowbit.quant.uniform.AffineGrid#fit} for symmetric grids). Ties keep the larger threshold.
 * p = 0 selects min-max (k = 100 only).
 */
public final class LpRangeSearch {
    private LpRangeSearch() {}

    /** Number of thresholds tried (k = 1..STEPS). */
    public static final int STEPS = 100;

    /**
     * The scale s0 of every (row, group) of {@code w} [out, in], row-major [out·numGroups], as floats;
     * groups are {@code groupCols} consecutive input columns.
     */
    public static float[] scales(Tensor w, int bits, int groupCols, double p) {
        if (w.dim() != 2) throw new IllegalArgumentException("range setting needs a 2-D weight [out, in], got " + Arrays.toString(w.shape()));
        if (groupCols < 1) throw new IllegalArgumentException("groupCols must be >= 1, got " + groupCols);
        if (!(p >= 0)) throw new IllegalArgumentException("L_p exponent must be >= 0 (0 = min-max), got " + p);
        int rows = w.size(0), cols = w.size(1), ng = (cols + groupCols - 1) / groupCols;
        float[] out = new float[rows * ng];
        double[] row = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) row[c] = w.get(r, c);
            for (int g = 0; g < ng; g++) out[r * ng + g] = scale(row, g * groupCols, Math.min(cols, (g + 1) * groupCols), bits, p);
        }
        return out;
    }

    /** The scale chosen for {@code w[from, to)}. */
    public static float scale(double[] w, int from, int to, int bits, double p) {
        int qmax = (1 << (bits - 1)) - 1, qmin = -(1 << (bits - 1));
        double m = 0;
        for (int i = from; i < to; i++) m = Math.max(m, Math.abs(w[i]));
        if (!(m > 0)) return 1f;                                   // all zeros: any scale represents them exactly
        if (!Double.isFinite(m)) throw new IllegalArgumentException("non-finite weight in range setting");
        float best = (float) (m / qmax);
        if (p == 0) return best;
        double bestErr = error(w, from, to, best, qmin, qmax, p);
        for (int k = STEPS - 1; k >= 1; k--) {
            float s = (float) (k * m / STEPS / qmax);                 // t_k / q_max
            double e = error(w, from, to, s, qmin, qmax, p);
            if (e < bestErr) {
                bestErr = e;
                best = s;
            }
        }
        return best;
    }

    /** Σ|w − s·clamp(round(w/s), qmin, qmax)|^p over w[from, to). */
    static double error(double[] w, int from, int to, double s, int qmin, int qmax, double p) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            double q = Math.max(qmin, Math.min(qmax, Math.rint(w[i] / s)));
            double d = Math.abs(w[i] - s * q);
            sum += p == 4 ? (d * d) * (d * d) : p == 2 ? d * d : Math.pow(d, p);
        }
        return sum;
    }
}
