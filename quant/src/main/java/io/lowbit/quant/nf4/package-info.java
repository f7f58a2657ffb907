/**
 * 4-bit NormalFloat (NF4) quantization from QLoRA: block-wise absmax scaling (blocks of 64 consecutive
 * weights of the flattened tensor), nearest of 16 fixed levels, and optional double quantization of the
 * absmax values to 8 bits in blocks of 256 (spec: /work/shared/specs/nf4.md).
 */
package io.lowbit.quant.nf4;
