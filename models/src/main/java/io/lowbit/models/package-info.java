/**
 * LLaMA-family model descriptions: {@link io.lowbit.models.LlamaConfig} (Hugging Face config.json fields,
 * read and written), {@link io.lowbit.models.RopeScaling} and named {@link io.lowbit.models.Presets}.
 * The decoder itself is in {@code io.lowbit.models.llama}, checkpoint formats in {@code io.lowbit.models.io},
 * sampling and scoring in {@code io.lowbit.models.generate}.
 */
package io.lowbit.models;
