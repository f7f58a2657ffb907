/**
 * LoRA adapters over a frozen full-precision weight ({@link io.lowbit.quant.lora.LoRALinear}), the layer of the
 * LoRA and ReLoRA baselines (specs/baselines.md).
 */
package io.lowbit.quant.lora;
