/**
 * Quantized LLaMA models: {@link io.lowbit.models.quant.QuantizedLlama} (dense embeddings, norms and head;
 * every decoder linear either dense or any {@link io.lowbit.quant.QuantizedTensor}, run by
 * {@link io.lowbit.models.llama.LlamaModel} through {@link io.lowbit.models.quant.LinearWeight}: fused
 * dequantizing GEMV / tiled matmul),
 * whole-model sequential calibration ({@link io.lowbit.models.quant.ModelQuantizer}: GPTQ fed with each
 * linear's real inputs, earlier layers already quantized), quantized safetensors checkpoints
 * ({@link io.lowbit.models.quant.QuantizedCheckpoint}) and evaluation (perplexity, KL to the float model).
 */
package io.lowbit.models.quant;
