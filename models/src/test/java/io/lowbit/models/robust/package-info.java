/**
 * Hostile-input and property-based fuzz tests for the model-side parsers (llama2.c {@code .bin},
 * {@code config.json}, Hugging Face checkpoint directories, SentencePiece {@code .model}, {@code tokenizer.json}).
 */
package io.lowbit.models.robust;
