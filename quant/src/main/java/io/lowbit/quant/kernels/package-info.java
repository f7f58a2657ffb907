/**
 * Vector API kernels over quantized weights: fused decode-time GEMV (codes decoded in registers, the
 * dense weight never materialized), row decoding into float tiles, and the tiled matmul that dequantizes
 * one cache-sized tile of W at a time into a reusable scratch buffer and hands it to
 * {@link io.lowbit.tensor.cpu.Sgemm}. Also an F32 GEMV used as the speed baseline.
 */
package io.lowbit.quant.kernels;
