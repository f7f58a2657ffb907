/**
 * Using a decoder: next-token {@link io.lowbit.models.generate.Sampler} (greedy, temperature, top-k,
 * top-p, seeded), the {@link io.lowbit.models.generate.Generator} loop over a KV-cached
 * {@link io.lowbit.models.llama.LlamaModel}, and windowed {@link io.lowbit.models.generate.Perplexity}.
 */
package io.lowbit.models.generate;
