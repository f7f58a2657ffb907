/**
 * Checkpoint formats: llama2.c's legacy {@code .bin} ({@link io.lowbit.models.io.Llama2cCheckpoint}),
 * Hugging Face safetensors directories ({@link io.lowbit.models.io.HfCheckpoint}), the q/k row permutation
 * between their RoPE layouts ({@link io.lowbit.models.io.QkPermutation}) and
 * {@link io.lowbit.models.io.Checkpoints#load} which picks the reader by what a path is.
 */
package io.lowbit.models.io;
