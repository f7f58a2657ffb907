/**
 * LR-QAT — low-rank quantization-aware training (Bondarenko, Del Chiaro, Nagel, arXiv 2406.06385;
 * spec {@code shared/specs/lr-qat.md}). {@link io.lowbit.quant.lrqat.LrQatLinear} is the trainable layer
 * Ŵ = s·clamp(round_STE(Φ0 + (α/r)·A·B), −2^(b−1), 2^(b−1)−1) with the frozen, downcast
 * Φ0 = φ(W0/s0) ({@link io.lowbit.quant.lrqat.Phi0}, {@link io.lowbit.quant.lrqat.Downcast}), computed by
 * the recomputing {@link io.lowbit.quant.lrqat.LrQatFunction}; {@link io.lowbit.quant.lrqat.LpRangeSearch}
 * chooses s0; {@link io.lowbit.quant.lrqat.ActQuant8} is the optional W4A8 activation quantizer;
 * {@link io.lowbit.quant.lrqat.LrQatLinear#merge()} gives the plain integer weight.
 */
package io.lowbit.quant.lrqat;
