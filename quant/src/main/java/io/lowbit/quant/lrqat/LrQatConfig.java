package io.lowbit.quant.lrqat;

import io.lowbit.quant.pack.BitPacking;

/**
 * Settings of one LR-QAT layer (spec "Forward", "Downcasting operator φ", "Defaults").
 *
 * @param bits            weight bits b (signed grid [−2^(b−1), 2^(b−1)−1]); 2, 3, 4 or 8
 * @param groupSize       input columns per scale group, or ≤ 0 for one scale per output channel
 * @param rank            r, the inner dimension of A·B
 * @param alpha           α of the α/r scaling
 * @param downcast        φ, the storage of W0/s0
 * @param rangeP          exponent of the L_p range search for s0 (4 in the paper), 0 for min-max
 * @param quantizeActivations W4A8: dynamic per-token asymmetric 8-bit activations ({@link ActQuant8})
 */
public record LrQatConfig(int bits, int groupSize, int rank, double alpha, Downcast downcast, double rangeP,
                          boolean quantizeActivations) {
    public LrQatConfig {
        BitPacking.checkBits(bits);
        if (rank < 1) throw new IllegalArgumentException("LR-QAT rank must be >= 1, got " + rank);
        if (!(alpha > 0)) throw new IllegalArgumentException("LR-QAT alpha must be > 0, got " + alpha);
        if (downcast == null) throw new IllegalArgumentException("downcast is null");
        if (!(rangeP >= 0)) throw new IllegalArgumentException("range-setting exponent must be >= 0 (0 = min-max), got " + rangeP);
    }

    /** The paper's W4 per-channel defaults: r = 32, α = 1, Q4.4 fixed point, L_4 range setting, no activation quantization. */
    public static LrQatConfig defaults() {
        return new LrQatConfig(4, 0, 32, 1.0, Downcast.FIXED_POINT_INT8, 4, false);
    }

    /** α/r. */
    public double scaling() {
        return alpha / rank;
    }

    /** Columns per scale group for a layer with {@code cols} input features. */
    public int groupCols(int cols) {
        return groupSize > 0 ? groupSize : cols;
    }

    /** A copy with other bits. */
    public LrQatConfig withBits(int b) { return new LrQatConfig(b, groupSize, rank, alpha, downcast, rangeP, quantizeActivations); }
    /** A copy with another group size (≤ 0: per channel). */
    public LrQatConfig withGroupSize(int g) { return new LrQatConfig(bits, g, rank, alpha, downcast, rangeP, quantizeActivations); }
    /** A copy with another rank. */
    public LrQatConfig withRank(int r) { return new LrQatConfig(bits, groupSize, r, alpha, downcast, rangeP, quantizeActivations); }
    /** A copy with another downcast φ. */
    public LrQatConfig withDowncast(Downcast d) { return new LrQatConfig(bits, groupSize, rank, alpha, d, rangeP, quantizeActivations); }
    /** A copy with another range-setting exponent (0 = min-max). */
    public LrQatConfig withRangeP(double p) { return new LrQatConfig(bits, groupSize, rank, alpha, downcast, p, quantizeActivations); }
    /** A copy with W4A8 activation quantization on or off. */
    public LrQatConfig withActivationQuantization(boolean on) { return new LrQatConfig(bits, groupSize, rank, alpha, downcast, rangeP, on); }
}
