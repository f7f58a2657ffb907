/**
 * Weight quantization behind one interface. A {@link io.lowbit.quant.Quantizer} (RTN/uniform affine,
 * NF4, GPTQ, ...) turns an F32 weight [out, in] into a {@link io.lowbit.quant.QuantizedTensor}: packed
 * codes plus scales (and zeros, absmax codes, g_idx) that know their bits, bytes and how to dequantize,
 * and that run fused dequantize-matmul kernels. {@link io.lowbit.quant.QuantLinear} is a frozen
 * quantized linear layer for inference (and for the input gradient of adapters trained on top of it).
 * {@code bench/QuantGemvJmh} times the fused GEMVs against an F32 GEMV.
 */
package io.lowbit.quant;
