/**
 * Quantization-aware training of a pretrained {@link io.lowbit.models.nn.LlamaForCausalLM}, ending in a
 * quantized checkpoint ({@link io.lowbit.models.quant.QuantizedCheckpoint}) that {@code eval} and
 * {@code generate} load: LR-QAT ({@link io.lowbit.models.qat.LrQatTraining}) and full QAT with LSQ
 * ({@link io.lowbit.models.qat.FullQatTraining}) as {@link io.lowbit.models.train.TrainingMethod}s of the
 * shared trainer; EfficientQAT as Block-AP over the decoder blocks followed by E2E-QP through the trainer
 * ({@link io.lowbit.models.qat.EfficientQatTraining}); {@link io.lowbit.models.qat.QatExport} turns a trained
 * model into a {@link io.lowbit.models.quant.QuantizedLlama} and back into a dense model for evaluation;
 * {@link io.lowbit.models.qat.QatRun} runs any method (and RTN/GPTQ) on one budget with measured memory.
 */
package io.lowbit.models.qat;
