/**
 * Optimizers and learning-rate schedules: {@link io.lowbit.autograd.optim.AdamW} (PyTorch's formula and
 * defaults), {@link io.lowbit.autograd.optim.AdamW8bit} (block-wise 8-bit moments with the dynamic code of
 * {@link io.lowbit.autograd.optim.DynamicQuantMap}), {@link io.lowbit.autograd.optim.SGD},
 * {@link io.lowbit.autograd.optim.ClipGrad} (global-norm clipping), {@link io.lowbit.autograd.optim.Schedule}
 * with {@link io.lowbit.autograd.optim.LrScheduler}, and {@link io.lowbit.autograd.optim.PerLayerOptimizer}
 * (updates inside backward through post-accumulate-grad hooks). Optimizer state lives in
 * {@link io.lowbit.tensor.MemoryCategory#OPTIMIZER} memory and is exposed as a state dict.
 */
package io.lowbit.autograd.optim;
