/**
 * The LLaMA decoder for inference: {@link io.lowbit.models.llama.LlamaWeights} (the parameters, F32,
 * in the RoPE layout they were trained in) and {@link io.lowbit.models.llama.LlamaModel} (token
 * embedding → N × [RMSNorm → grouped-query attention with RoPE and a KV cache → residual → RMSNorm →
 * SwiGLU MLP → residual] → RMSNorm → LM head), the KV cache and the attention that reads it in
 * {@code KvCache} (positions in tiles of one vector), and Vector-API kernels in
 * {@link io.lowbit.models.llama.Kernels}.
 */
package io.lowbit.models.llama;
