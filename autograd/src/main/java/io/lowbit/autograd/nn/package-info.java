/**
 * Neural-network building blocks on the autograd engine, PyTorch-shaped: {@link io.lowbit.autograd.nn.Module}
 * (named parameters, buffers, children, train/eval, state dicts, {@code replace(path, module)}),
 * {@link io.lowbit.autograd.nn.Parameter}, {@link io.lowbit.autograd.nn.Layer} (one Var in, one out),
 * {@link io.lowbit.autograd.nn.Linear}, {@link io.lowbit.autograd.nn.Embedding},
 * {@link io.lowbit.autograd.nn.RMSNorm}, {@link io.lowbit.autograd.nn.Dropout},
 * {@link io.lowbit.autograd.nn.Activation}, {@link io.lowbit.autograd.nn.Sequential} and
 * {@link io.lowbit.autograd.nn.ModuleList}.
 */
package io.lowbit.autograd.nn;
