package io.lowbit.autograd.optim;

import java.util.Arrays;

/**
 * The 8-bit dynamic quantization code of Dettmers et al. ("8-bit Optimizers via Block-wise
 * Quantization", 2022, §2; construction as in bitsandbytes' {@code create_dynamic_map} with 7 exponent
 * bits): 256 sorted values in [−1, 1] whose magnitudes span 10⁻⁷..1. For exponent i = 0..6 the decade
 * [10^(i−6)·0.1, 10^(i−6)] is split into linearly spaced bins and each bin contributes its midpoint:
 * 2ⁱ bins per sign for the signed code (254 values), 2^(i+1) bins for the unsigned code (254 values);
 * then 0 and 1 are added. Values are encoded to the nearest code after dividing by the block's absmax.
 */
public final class DynamicQuantMap {
    private final float[] code;

    private DynamicQuantMap(float[] code) {
        this.code = code;
    }

    /** The signed code (for Adam's first moment). */
    public static DynamicQuantMap signed() {
        return new DynamicQuantMap(build(true));
    }

    /** The unsigned code (for Adam's second moment, which is never negative). */
    public static DynamicQuantMap unsigned() {
        return new DynamicQuantMap(build(false));
    }

    private static float[] build(boolean signed) {
        int maxExponentBits = 7;
        double[] values = new double[256];
        int n = 0;
        for (int i = 0; i < maxExponentBits; i++) {
            int bins = signed ? 1 << i : 1 << (i + 1);
            double decade = Math.pow(10, -(maxExponentBits - 1) + i);
            for (int b = 0; b < bins; b++) {
                double lo = 0.1 + 0.9 * b / bins, hi = 0.1 + 0.9 * (b + 1) / bins; // linspace(0.1, 1, bins + 1)
                double mid = decade * (lo + hi) / 2;
                values[n++] = mid;
                if (signed) values[n++] = -mid;
            }
        }
        values[n++] = 0;
        values[n++] = 1;
        if (n != 256) throw new AssertionError("dynamic map has " + n + " values");
        Arrays.sort(values);
        float[] out = new float[256];
        for (int i = 0; i < 256; i++) out[i] = (float) values[i];
        return out;
    }

    /** The 256 code values, ascending. */
    public float[] values() {
        return code.clone();
    }

    /** Code value of index {@code i} (0..255). */
    public float decode(int i) {
        return code[i];
    }

    /** Index of the code value nearest to {@code x} (x already divided by the absmax; ties go up). */
    public int encode(float x) {
        int lo = 0, hi = 255;
        if (x <= code[0]) return 0;
        if (x >= code[255]) return 255;
        while (hi - lo > 1) { // invariant: code[lo] <= x < code[hi]
            int mid = (lo + hi) >>> 1;
            if (code[mid] <= x) lo = mid;
            else hi = mid;
        }
        return x - code[lo] < code[hi] - x ? lo : hi;
    }
}
