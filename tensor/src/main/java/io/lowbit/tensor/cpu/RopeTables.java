package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Tensor;

/**
 * cos and sin of the rotary angles, each [maxPositions, headDim/2] F32: entry [p][i] is the angle
 * p·θ^(-2i/headDim) (RoFormer, Su et al. 2021, eq. 15), optionally rescaled by {@link RopeScaling}.
 * Closing the tables closes both tensors.
 */
public record RopeTables(Tensor cos, Tensor sin) implements AutoCloseable {
    /** Number of positions the tables cover. */
    public int maxPositions() {
        return cos.size(0);
    }

    /** headDim / 2. */
    public int halfDim() {
        return cos.size(1);
    }

    @Override
    public void close() {
        cos.close();
        sin.close();
    }
}
