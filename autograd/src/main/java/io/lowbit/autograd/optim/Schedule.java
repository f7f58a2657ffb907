package io.lowbit.autograd.optim;

/**
 * A learning-rate multiplier as a function of the step (0-based): lr(step) = initial lr · multiplier(step).
 */
@FunctionalInterface
public interface Schedule {
    /** The factor applied to the initial learning rate at {@code step}. */
    double multiplier(long step);

    /** Always 1. */
    static Schedule constant() {
        return step -> 1.0;
    }

    /** Linear warmup from 0 over {@code warmup} steps, then constant. */
    static Schedule constantWithWarmup(long warmup) {
        return step -> step < warmup ? (double) step / warmup : 1.0;
    }

    /** Linear warmup over {@code warmup} steps, then linear decay to 0 at {@code total} (HF "linear"). */
    static Schedule linear(long warmup, long total) {
        checkSteps(warmup, total);
        return step -> {
            if (step < warmup) return (double) step / warmup;
            return Math.max(0.0, (double) (total - step) / Math.max(1, total - warmup));
        };
    }

    /**
     * Linear warmup over {@code warmup} steps, then a half cosine from 1 down to {@code minRatio} at
     * {@code total}; stays at {@code minRatio} after.
     */
    static Schedule warmupCosine(long warmup, long total, double minRatio) {
        checkSteps(warmup, total);
        if (!(minRatio >= 0 && minRatio <= 1)) throw new IllegalArgumentException("minRatio must be in [0, 1], got " + minRatio);
        return step -> {
            if (step < warmup) return (double) step / warmup;
            double progress = Math.min(1.0, (double) (step - warmup) / Math.max(1, total - warmup));
            return minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
        };
    }

    private static void checkSteps(long warmup, long total) {
        if (warmup < 0 || total < warmup)
            throw new IllegalArgumentException("schedule needs 0 <= warmup <= total, got warmup " + warmup + ", total " + total);
    }
}
