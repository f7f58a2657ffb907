package io.lowbit.quant.uniform;

import io.lowbit.quant.pack.BitPacking;

/**
 * The shape of an affine quantization grid: code width, symmetric or asymmetric, and which weights share
 * a scale. {@code groupSize} is the number of input columns per group for {@link Granularity#PER_GROUP}
 * and ignored (stored as −1) otherwise.
 */
public record AffineSpec(int bits, boolean symmetric, Granularity granularity, int groupSize) {
    public AffineSpec {
        BitPacking.checkBits(bits);
        if (granularity == null) throw new IllegalArgumentException("granularity is null");
        if (granularity == Granularity.PER_GROUP) {
            if (groupSize < 1) throw new IllegalArgumentException("per-group quantization needs groupSize >= 1, got " + groupSize);
        } else {
            groupSize = -1;
        }
    }

    /** One scale per output channel. */
    public static AffineSpec perChannel(int bits, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.PER_CHANNEL, -1);
    }

    /** One scale per row and group of {@code groupSize} input columns (32, 64, 128 are the usual choices). */
    public static AffineSpec perGroup(int bits, boolean symmetric, int groupSize) {
        return new AffineSpec(bits, symmetric, Granularity.PER_GROUP, groupSize);
    }

    /** One scale for the whole tensor. */
    public static AffineSpec perTensor(int bits, boolean symmetric) {
        return new AffineSpec(bits, symmetric, Granularity.PER_TENSOR, -1);
    }

    /** Largest code, 2^bits − 1. */
    public int maxq() {
        return (1 << bits) - 1;
    }

    /** Input columns per scale group for a weight with {@code cols} columns. */
    public int groupCols(int cols) {
        return granularity == Granularity.PER_GROUP ? groupSize : Math.max(1, cols);
    }

    /** Number of scale groups along the columns. */
    public int numGroups(int cols) {
        int g = groupCols(cols);
        return Math.max(1, (cols + g - 1) / g);
    }

    /** Rows of the scale (and zero) tables: 1 per tensor, else one per output channel. */
    public int scaleRows(int rows) {
        return granularity == Granularity.PER_TENSOR ? 1 : rows;
    }
}
