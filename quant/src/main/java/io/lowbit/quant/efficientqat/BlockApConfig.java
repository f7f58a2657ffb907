package io.lowbit.quant.efficientqat;

import io.lowbit.quant.pack.BitPacking;

/**
 * Block-AP settings (spec "Phase 1"): AdamW with weight decay 0 and a cosine schedule from the learning
 * rate down to lr·minLrRatio over all steps.
 *
 * @param bits       code bits (2, 3, 4, 8)
 * @param groupSize  input columns per (s, z) group, ≤ 0 for one per output channel
 * @param epochs     passes over the calibration samples
 * @param lrWeights  learning rate of linear and RMSNorm weights
 * @param lrQuant    learning rate of step sizes s and zero points z
 * @param minLrRatio final lr / initial lr of the cosine schedule (1/20 in the paper)
 */
public record BlockApConfig(int bits, int groupSize, int epochs, double lrWeights, double lrQuant, double minLrRatio) {
    public BlockApConfig {
        BitPacking.checkBits(bits);
        if (epochs < 1) throw new IllegalArgumentException("Block-AP needs epochs >= 1, got " + epochs);
        if (!(lrWeights >= 0) || !(lrQuant >= 0)) throw new IllegalArgumentException("learning rates must be >= 0, got " + lrWeights + ", " + lrQuant);
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new IllegalArgumentException("minLrRatio must be in [0, 1], got " + minLrRatio);
    }

    /** The paper's settings: 2 epochs, weights lr 2e-5 (2-bit) or 1e-5 (3/4-bit), s and z lr 1e-4, cosine to lr/20. */
    public static BlockApConfig paper(int bits, int groupSize) {
        return new BlockApConfig(bits, groupSize, 2, bits == 2 ? 2e-5 : 1e-5, 1e-4, 1.0 / 20);
    }

    /** A scaled-down copy for small models and few samples: other epochs and learning rates. */
    public BlockApConfig scaled(int epochs, double lrWeights, double lrQuant) {
        return new BlockApConfig(bits, groupSize, epochs, lrWeights, lrQuant, minLrRatio);
    }
}
