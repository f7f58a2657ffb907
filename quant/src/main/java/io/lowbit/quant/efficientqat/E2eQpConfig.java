package io.lowbit.quant.efficientqat;

/**
 * E2E-QP settings (spec "Phase 2"): AdamW (wd 0) on the step sizes only, linear warmup over
 * warmupFraction of the steps then cosine to lr·minLrRatio, gradient-norm clipping.
 *
 * @param steps          total optimizer steps
 * @param lr             peak learning rate
 * @param warmupFraction fraction of steps with linear warmup (0.03 in the paper)
 * @param clipNorm       max global gradient norm of the step sizes (0.3 in the paper), ≤ 0 for none
 * @param minLrRatio     final lr / peak lr
 */
public record E2eQpConfig(int steps, double lr, double warmupFraction, double clipNorm, double minLrRatio) {
    public E2eQpConfig {
        if (steps < 1) throw new IllegalArgumentException("E2E-QP needs steps >= 1, got " + steps);
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        if (!(warmupFraction >= 0 && warmupFraction <= 1)) throw new IllegalArgumentException("warmupFraction must be in [0, 1], got " + warmupFraction);
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new IllegalArgumentException("minLrRatio must be in [0, 1], got " + minLrRatio);
    }

    /** The paper's settings: lr 2e-5 (2-bit) or 1e-5 (3/4-bit), 3% warmup, clip 0.3, cosine to 0. */
    public static E2eQpConfig paper(int bits, int steps) {
        return new E2eQpConfig(steps, bits == 2 ? 2e-5 : 1e-5, 0.03, 0.3, 0);
    }

    /** Steps of linear warmup. */
    public long warmupSteps() {
        return (long) Math.ceil(warmupFraction * steps);
    }
}
