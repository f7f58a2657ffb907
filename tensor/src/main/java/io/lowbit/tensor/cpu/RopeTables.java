package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Tensor;

/**
 * cos and sin of the rotary angles, each [maxPositions, headDim/2] F32: entry [p][i] is the angle
 * p·θ^(-2i/headDim) (RoFormer, Su et al. 2021, eq. 15), optionally rescaled by {@link RopeScaling}.
 * Angles are formed in double and rounded once to float; reference code (Meta, Hugging Face, llama2.c)
 * forms p·θ_i in float32, which differs by up to ulp(p·θ_i)/2 (about 2.4e-4 rad at p = 4096).
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
