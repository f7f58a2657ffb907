/**
 * CPU kernels on the Vector API: elementwise with broadcasting, reductions, softmax, SGEMM, the shared
 * worker pool ({@link io.lowbit.tensor.cpu.Parallel}), and the fused forward kernels of a LLaMA block
 * ({@link io.lowbit.tensor.cpu.Fused}: RMSNorm, rotary embeddings with Llama 3 scaling, SwiGLU, causal
 * grouped-query attention over a KV cache, GEMV).
 */
package io.lowbit.tensor.cpu;
