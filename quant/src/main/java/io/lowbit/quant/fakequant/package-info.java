/**
 * Fake quantization for quantization-aware training, as autograd Functions: straight-through rounding
 * ({@link io.lowbit.quant.fakequant.RoundSte}) and LSQ, learned step size quantization (Esser et al. 2020),
 * with step-size gradients per tensor, per output channel or per group of input columns
 * ({@link io.lowbit.quant.fakequant.LsqFakeQuant}); {@link io.lowbit.quant.fakequant.FakeQuant} is the
 * entry point. {@link io.lowbit.quant.fakequant.LsqLinear} is the full-QAT baseline layer (LSQ on a
 * linear's weight, both trained) with its merge to integers.
 */
package io.lowbit.quant.fakequant;
