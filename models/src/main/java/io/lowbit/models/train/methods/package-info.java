/**
 * The low-rank pretraining methods behind the {@link io.lowbit.models.train.TrainingMethod} seam: LoQT and
 * LoQT-nq ({@link io.lowbit.models.train.methods.LoQTTraining}), LoRA and ReLoRA
 * ({@link io.lowbit.models.train.methods.LoRATraining}), GaLore
 * ({@link io.lowbit.models.train.methods.GaLoreTraining}); fine-tuning with adapters over a frozen base — ModuLoRA
 * over any quantizer, QLoRA, fp LoRA ({@link io.lowbit.models.train.methods.ModuLoRATraining}); which layers they adapt
 * ({@link io.lowbit.models.train.methods.AdaptedLayers}); and the memory planner that reproduces the LoQT
 * paper's memory column ({@link io.lowbit.models.train.methods.MemoryPlan}).
 */
package io.lowbit.models.train.methods;
