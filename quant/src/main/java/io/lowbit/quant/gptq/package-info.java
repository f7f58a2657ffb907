/**
 * GPTQ / OPTQ post-training quantization (Frantar et al., ICLR 2023; spec /work/shared/specs/gptq.md):
 * a Hessian accumulator over a layer's real calibration inputs and the column-by-column quantizer with
 * error feedback through the upper Cholesky factor of H⁻¹, lazy block updates, groups and act-order.
 * The result is an {@link io.lowbit.quant.uniform.AffineQuantizedTensor} (with g_idx for act-order).
 */
package io.lowbit.quant.gptq;
