/**
 * The trainable LLaMA: {@link io.lowbit.models.nn.LlamaForCausalLM}, an autograd {@code nn.Module} tree whose
 * state-dict keys are exactly Hugging Face's {@code LlamaForCausalLM} tensor names, with its decoder blocks
 * ({@link io.lowbit.models.nn.LlamaDecoderLayer}), attention ({@link io.lowbit.models.nn.LlamaAttention}) and
 * SwiGLU MLP ({@link io.lowbit.models.nn.LlamaMlp}). Every projection is an {@code nn.Layer} child so training
 * methods can swap it by path ({@code Module.replace}). Conversion to and from the inference weights
 * ({@link io.lowbit.models.llama.LlamaWeights}) and Hugging Face checkpoint directories lives on the model.
 */
package io.lowbit.models.nn;
