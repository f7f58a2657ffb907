package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;

/**
 * Rotary position embedding (Su et al. 2021, eq. 34): coordinate pair i of a head at position p is
 * rotated by the angle p·θ_i, θ_i = theta^(−2i/head_dim), optionally rescaled
 * ({@link io.lowbit.models.RopeScaling}). Angles are tabulated once for every position; which coordinates
 * form pair i depends on the {@link RopeLayout}.
 */
public final class Rope {
    private final int half;
    private final RopeLayout layout;
    private final float[] cos, sin; // [maxSeq, half]

    public Rope(LlamaConfig c, RopeLayout layout, int maxSeq) {
        this.half = c.headDim() / 2;
        this.layout = layout;
        float[] invFreq = inverseFrequencies(c);
        cos = new float[maxSeq * half];
        sin = new float[maxSeq * half];
        for (int p = 0; p < maxSeq; p++)
            for (int i = 0; i < half; i++) {
                float angle = p * invFreq[i]; // float32, as the reference implementations compute it
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
    }

    /** θ_i = 1 / theta^(2i/head_dim) in float32, then the config's scaling if any. */
    public static float[] inverseFrequencies(LlamaConfig c) {
        int half = c.headDim() / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / c.headDim();
            inv[i] = 1f / (float) Math.pow(c.ropeTheta(), exponent);
            if (c.ropeScaling() != null) inv[i] = (float) c.ropeScaling().scale(inv[i]);
        }
        return inv;
    }

    /** Rotates {@code heads} consecutive heads of width 2·half starting at {@code x[off]} for position {@code pos}. */
    public void apply(float[] x, int off, int heads, int pos) {
        int t = pos * half, hd = 2 * half;
        for (int h = 0; h < heads; h++) {
            int base = off + h * hd;
            for (int i = 0; i < half; i++) {
                int a = layout == RopeLayout.INTERLEAVED ? base + 2 * i : base + i;
                int b = layout == RopeLayout.INTERLEAVED ? a + 1 : a + half;
                float c = cos[t + i], s = sin[t + i], x0 = x[a], x1 = x[b];
                x[a] = x0 * c - x1 * s;
                x[b] = x0 * s + x1 * c;
            }
        }
    }
}
