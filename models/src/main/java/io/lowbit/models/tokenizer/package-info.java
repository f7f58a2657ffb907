/**
 * Text to token ids and back for LLaMA-family models.
 *
 * <p>{@link io.lowbit.models.tokenizer.Tokenizer} is the one interface; {@link
 * io.lowbit.models.tokenizer.Tokenizer#load(java.nio.file.Path)} picks the implementation from the file:
 * <ul>
 *   <li>{@link io.lowbit.models.tokenizer.SentencePieceTokenizer}: a SentencePiece BPE {@code .model}
 *       (Llama-2, Mistral), parsed with our own protobuf wire reader ({@link io.lowbit.models.tokenizer.ProtoReader});</li>
 *   <li>{@link io.lowbit.models.tokenizer.HfBpeTokenizer}: a Hugging Face {@code tokenizer.json} BPE, either
 *       SentencePiece-style (metaspace {@code ▁} plus byte fallback) or byte-level (GPT-2 / Llama-3,
 *       see {@link io.lowbit.models.tokenizer.ByteLevel}).</li>
 * </ul>
 * Both apply merges with {@link io.lowbit.models.tokenizer.BpeMerger}; {@link
 * io.lowbit.models.tokenizer.HfTextSteps} holds the HF normalizers and pre-tokenizers. {@link
 * io.lowbit.models.tokenizer.BpeTrainer} learns a byte-level BPE from our own corpus; its {@link
 * io.lowbit.models.tokenizer.TrainedBpe} is saved as a {@code tokenizer.json} that the loader here (and
 * the Hugging Face {@code tokenizers} schema) reads.
 * {@link io.lowbit.models.tokenizer.StreamDecoder} turns generated ids into text as they arrive.
 */
package io.lowbit.models.tokenizer;
