/**
 * The reverse-mode autograd engine. {@link io.lowbit.autograd.Var} wraps a tensor with its gradient and
 * the {@link io.lowbit.autograd.Function} that produced it; {@code Function} is also the public API for
 * writing an op (forward and backward side by side, {@code saveForBackward}); {@link io.lowbit.autograd.GradMode}
 * turns recording off and on; {@link io.lowbit.autograd.Checkpoint} recomputes segments in backward
 * instead of storing their activations; {@link io.lowbit.autograd.GradCheck} compares backward with
 * finite differences in double precision.
 *
 * <p>Memory: activations (op outputs, saved tensors, gradients in flight) are
 * {@link io.lowbit.tensor.MemoryCategory#ACTIVATIONS}; each node frees what it owns right after its
 * backward; leaf gradients are {@link io.lowbit.tensor.MemoryCategory#GRADIENTS} and escape every open
 * {@link io.lowbit.tensor.MemoryScope}. A training step is one scope:
 * <pre>{@code
 * try (MemoryScope step = MemoryScope.open()) {
 *     Var loss = F.crossEntropy(model.forward(x), targets);
 *     loss.backward();
 *     optimizer.step();
 *     optimizer.zeroGrad();
 * }   // every activation of the step is back in the allocator
 * }</pre>
 */
package io.lowbit.autograd;
