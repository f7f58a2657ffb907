/**
 * Robustness (issue 10): hostile-input and property-based fuzz tests for the model-side parsers (llama2.c
 * {@code .bin}, {@code config.json}, Hugging Face checkpoint directories, SentencePiece {@code .model},
 * {@code tokenizer.json}); a training JVM killed with SIGKILL at named crash points and resumed; a memory soak.
 * Counts and cases: README.md beside this file.
 */
package io.lowbit.models.robust;
