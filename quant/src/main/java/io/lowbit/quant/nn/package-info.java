/**
 * Autograd layers over quantized weights: {@link io.lowbit.quant.nn.QuantLinear}, a frozen linear whose
 * base is any {@link io.lowbit.quant.QuantizedTensor}, with ModuLoRA's quantization-agnostic backward
 * ({@link io.lowbit.quant.nn.QuantMatmul}): the input gradient re-materializes the weight tile by tile, the
 * base gets no gradient and nothing dense is saved between forward and backward.
 */
package io.lowbit.quant.nn;
