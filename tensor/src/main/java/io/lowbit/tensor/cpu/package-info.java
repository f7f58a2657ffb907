/**
 * CPU kernels on the Vector API: elementwise with broadcasting, reductions, softmax, SGEMM and the
 * shared worker pool ({@link io.lowbit.tensor.cpu.Parallel}).
 */
package io.lowbit.tensor.cpu;
