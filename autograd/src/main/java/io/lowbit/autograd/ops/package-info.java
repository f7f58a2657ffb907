/**
 * Differentiable ops. {@link io.lowbit.autograd.ops.F} is the facade (add, matmul, linear, rmsNorm, rope,
 * swiglu, attention, crossEntropy, ...); each op is a {@link io.lowbit.autograd.Function} subclass in this
 * package with its forward and backward side by side. The fused ops ({@code RmsNorm}, {@code Rope},
 * {@code SwiGlu}, {@code Attention}, {@code CrossEntropy}) carry a Vector API kernel for contiguous F32
 * and a plain reference loop for F64 (used by gradient checks and as the definition the fast path is
 * tested against). {@link io.lowbit.autograd.ops.RopeTable} holds precomputed rotary cos/sin tables.
 */
package io.lowbit.autograd.ops;
