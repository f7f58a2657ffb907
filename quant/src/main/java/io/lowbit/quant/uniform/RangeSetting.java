package io.lowbit.quant.uniform;

/**
 * How a grid's range is chosen from the weights that share it.
 *
 * <p>{@link #minMax()} uses the full range. {@link #lpGrid(double)} tries the shrunk ranges
 * α·[min, max] for α = 1 − k/steps, k = 0 .. ⌊maxShrink·steps⌋ − 1 (100 steps down to α = 0.21 by
 * default, as GPTQ's MSE search) and keeps the α minimizing Σ|w − q(w)|^p; ties keep the wider range,
 * so the result is never worse than min-max in that norm.
 */
public record RangeSetting(double p, int steps, double maxShrink) {
    public RangeSetting {
        if (p < 0 || steps < 1 || maxShrink < 0 || maxShrink >= 1)
            throw new IllegalArgumentException("bad range setting p=" + p + " steps=" + steps + " maxShrink=" + maxShrink);
    }

    /** Full min-max range. */
    public static RangeSetting minMax() {
        return new RangeSetting(0, 1, 0);
    }

    /** Grid search minimizing Σ|w − q(w)|^p (p = 2 for MSE, p = 4 to weigh outliers more). */
    public static RangeSetting lpGrid(double p) {
        if (!(p > 0)) throw new IllegalArgumentException("L^p range search needs p > 0, got " + p);
        return new RangeSetting(p, 100, 0.8);
    }

    /** True for plain min-max. */
    public boolean isMinMax() {
        return p == 0;
    }

    /** The name written to quantization_config ("minmax", "lp2", "lp4"). */
    public String configName() {
        return isMinMax() ? "minmax" : "lp" + (p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p));
    }

    /** Chooses the grid for {@code w[from, to)}. */
    public AffineGrid choose(float[] w, int from, int to, int bits, boolean symmetric) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            lo = Math.min(lo, w[i]);
            hi = Math.max(hi, w[i]);
        }
        if (to <= from) lo = hi = 0;
        AffineGrid best = AffineGrid.fit(lo, hi, bits, symmetric);
        if (isMinMax()) return best;
        double bestErr = error(best, w, from, to);
        int kMax = (int) Math.floor(maxShrink * steps);
        for (int k = 1; k < kMax; k++) {
            double alpha = 1.0 - (double) k / steps;
            AffineGrid g = AffineGrid.fit(alpha * lo, alpha * hi, bits, symmetric);
            double e = error(g, w, from, to);
            if (e < bestErr) {
                bestErr = e;
                best = g;
            }
        }
        return best;
    }

    /** Σ|w − q(w)|^p over w[from, to). */
    public double error(AffineGrid g, float[] w, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            double d = Math.abs(w[i] - g.dequantize(g.quantize(w[i])));
            s += p == 2 ? d * d : p == 4 ? (d * d) * (d * d) : Math.pow(d, p == 0 ? 2 : p);
        }
        return s;
    }
}
