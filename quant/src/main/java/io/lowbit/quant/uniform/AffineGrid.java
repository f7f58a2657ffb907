package io.lowbit.quant.uniform;

/**
 * One affine grid: ŵ = scale·(q − zero), q = clamp(round(w / scale) + zero, 0, maxq).
 *
 * <p>Asymmetric (GPTQ spec, step 7): xmin = min(lo, 0), xmax = max(hi, 0), scale = (xmax − xmin)/maxq,
 * zero = round(−xmin / scale). Symmetric: a = max(|lo|, |hi|), zero = 2^(b−1), scale = a / (2^(b−1) − 1),
 * so the codes cover [−a, a] exactly (plus one extra negative step). An empty range (all zeros) uses
 * [−1, 1], which still maps 0 to 0 exactly. The scale is rounded to float first, and quantization uses
 * that float scale, so the stored grid is the grid that was used.
 */
public record AffineGrid(float scale, int zero, int maxq) {
    /** Fits a grid to the value range [lo, hi]. */
    public static AffineGrid fit(double lo, double hi, int bits, boolean symmetric) {
        int maxq = (1 << bits) - 1;
        if (symmetric) {
            double a = Math.max(Math.abs(lo), Math.abs(hi));
            int mid = 1 << (bits - 1);
            float s = (float) (a / (mid - 1));
            if (!(s > 0) || !Float.isFinite(s)) s = (float) (1.0 / (mid - 1));
            return new AffineGrid(s, mid, maxq);
        }
        double xmin = Math.min(lo, 0), xmax = Math.max(hi, 0);
        float s = (float) ((xmax - xmin) / maxq);
        if (!(s > 0) || !Float.isFinite(s)) {
            xmin = -1;
            s = (float) (2.0 / maxq);
        }
        int z = (int) Math.max(0, Math.min(maxq, Math.rint(-xmin / s)));
        return new AffineGrid(s, z, maxq);
    }

    /** The code of {@code w}: clamp(round(w / scale) + zero, 0, maxq). */
    public int quantize(double w) {
        double q = Math.rint(w / scale) + zero;
        return (int) Math.max(0, Math.min(maxq, q));
    }

    /** The value of code {@code q}: scale·(q − zero), in float arithmetic (as every kernel computes it). */
    public float dequantize(int q) {
        return scale * (float) (q - zero);
    }

    /** Smallest representable value. */
    public float lo() {
        return dequantize(0);
    }

    /** Largest representable value. */
    public float hi() {
        return dequantize(maxq);
    }
}
