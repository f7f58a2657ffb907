package io.lowbit.quant.nf4;

/** The 16 NF4 levels of the QLoRA paper (as published in bitsandbytes) and nearest-level rounding. */
public final class Nf4 {
    private Nf4() {}

    /** Level {@code i} for code i = 0..15; code 7 is exactly 0. */
    private static final float[] LEVELS = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
        0.7229568362236023f, 1.0f,
    };

    /** Midpoints between neighbouring levels: v rounds to code #{k : v > MID[k]}. */
    private static final double[] MID = new double[15];

    static {
        for (int k = 0; k < 15; k++) MID[k] = ((double) LEVELS[k] + LEVELS[k + 1]) / 2;
    }

    /** A copy of the 16 levels. */
    public static float[] levels() {
        return LEVELS.clone();
    }

    /** Level of code {@code q}. */
    public static float level(int q) {
        return LEVELS[q];
    }

    /** The code of the level nearest to {@code v} (v is w / absmax, in [−1, 1]); ties go to the lower level. */
    public static int nearest(double v) {
        int lo = 0, hi = 15; // binary search for the count of midpoints below v
        while (lo < hi) {
            int m = (lo + hi) >>> 1;
            if (v > MID[m]) lo = m + 1;
            else hi = m;
        }
        return lo;
    }
}
