/**
 * EfficientQAT (Chen et al., arXiv 2407.11062; spec {@code shared/specs/efficientqat.md}).
 * Phase 1, Block-AP: {@link io.lowbit.quant.efficientqat.BlockAp} replaces a block's linears by
 * {@link io.lowbit.quant.efficientqat.EfficientQatLinear} (fake quantization
 * {@link io.lowbit.quant.efficientqat.AffineFakeQuant} with trainable W, s, z), trains them with the
 * norms on the block-output MSE, and freezes them as integers; {@link io.lowbit.quant.efficientqat.BlockAp#run}
 * walks a list of blocks. Phase 2, E2E-QP: {@link io.lowbit.quant.efficientqat.ScaleOnlyQuantLinear}
 * (frozen q, z; trainable s through {@link io.lowbit.quant.efficientqat.DequantScaleLinear}) trained end to
 * end by {@link io.lowbit.quant.efficientqat.E2eQp}.
 */
package io.lowbit.quant.efficientqat;
