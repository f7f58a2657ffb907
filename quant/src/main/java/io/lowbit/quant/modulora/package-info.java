/**
 * ModuLoRA (Yin et al. 2023) and QLoRA (Dettmers et al. 2023): low-rank adapters over a frozen
 * {@link io.lowbit.quant.nn.QuantLinear} whose quantizer is a black box ({@link io.lowbit.quant.Quantizer}:
 * RTN, NF4, GPTQ, ...). {@link io.lowbit.quant.modulora.ModuLoraLinear} is the layer,
 * {@link io.lowbit.quant.modulora.ModuLora} swaps the targeted linears of a model for it.
 */
package io.lowbit.quant.modulora;
