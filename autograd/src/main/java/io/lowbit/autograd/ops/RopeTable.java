package io.lowbit.autograd.ops;

/**
 * Precomputed rotary position embedding tables (Su et al. 2021, RoFormer eq. 34): for position p and
 * pair i of a head of size d, the angle is p·θ^(−2i/d). Pairs are laid out either
 * {@link Layout#INTERLEAVED} (elements 2i and 2i+1: Meta's reference code and llama2.c) or
 * {@link Layout#HALF} (elements i and i + d/2: Hugging Face's {@code rotate_half}). Checkpoints
 * converted between the two permute the q/k projection rows; the rotation itself is the same.
 *
 * <p>By default angles are computed in double and stored as double (F64 path) and float (F32 path).
 * {@link #float32Angles} instead forms each frequency and angle in float, as llama2.c and Hugging Face do
 * (their angle at position p carries float rounding of up to ulp(p·θ_i)), for matching their logits
 * closely. Tables live on the heap: they are small ({@code maxSeqLen·d/2} entries) and shared by every
 * layer.
 */
public final class RopeTable {
    /** Which elements of a head form a rotated pair. */
    public enum Layout {
        /** Pairs (2i, 2i+1): Meta / llama2.c. */
        INTERLEAVED,
        /** Pairs (i, i + d/2): Hugging Face rotate_half. */
        HALF
    }

    private final int headDim, maxSeqLen;
    private final double theta;
    private final Layout layout;
    final double[] cos, sin; // [maxSeqLen][headDim/2]
    final float[] cosF, sinF;

    /**
     * @param headDim   head size d (even)
     * @param maxSeqLen positions 0 .. maxSeqLen−1 are tabulated
     * @param theta     base θ (10000 in LLaMA)
     */
    public RopeTable(int headDim, int maxSeqLen, double theta, Layout layout) {
        this(headDim, maxSeqLen, theta, layout, false);
    }

    /** A table whose frequencies θ^(−2i/d) and angles p·θ_i are rounded to float, like the reference implementations. */
    public static RopeTable float32Angles(int headDim, int maxSeqLen, double theta, Layout layout) {
        return new RopeTable(headDim, maxSeqLen, theta, layout, true);
    }

    private RopeTable(int headDim, int maxSeqLen, double theta, Layout layout, boolean floatAngles) {
        if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("RoPE head size must be even and positive, got " + headDim);
        if (maxSeqLen <= 0) throw new IllegalArgumentException("RoPE maxSeqLen must be positive, got " + maxSeqLen);
        this.headDim = headDim;
        this.maxSeqLen = maxSeqLen;
        this.theta = theta;
        this.layout = layout;
        int half = headDim / 2;
        cos = new double[maxSeqLen * half];
        sin = new double[maxSeqLen * half];
        cosF = new float[cos.length];
        sinF = new float[sin.length];
        for (int p = 0; p < maxSeqLen; p++)
            for (int i = 0; i < half; i++) {
                double freq = Math.pow(theta, -2.0 * i / headDim); // RoFormer: θ_i = θ^(−2i/d)
                double angle = floatAngles ? (float) p * (float) freq : p * freq;
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
                cosF[p * half + i] = (float) cos[p * half + i];
                sinF[p * half + i] = (float) sin[p * half + i];
            }
    }

    /** Head size d. */
    public int headDim() { return headDim; }
    /** Number of tabulated positions. */
    public int maxSeqLen() { return maxSeqLen; }
    /** Base θ. */
    public double theta() { return theta; }
    /** Pair layout. */
    public Layout layout() { return layout; }

    /** cos of the angle of pair i at position p. */
    public double cos(int p, int i) { return cos[p * (headDim / 2) + i]; }

    /** sin of the angle of pair i at position p. */
    public double sin(int p, int i) { return sin[p * (headDim / 2) + i]; }
}
