/**
 * CPU kernels on the Vector API: elementwise with broadcasting, reductions, softmax, SGEMM and the
 * shared worker pool ({@link io.lowbit.tensor.cpu.Parallel}).
 *
 * <p>SGEMM is split into {@link io.lowbit.tensor.cpu.Sgemm} (blocking, threading and the skinny-shape
 * dispatch), {@code Pack} (operand packing, which absorbs transposition), {@code GemmKernel} (the 12×32 (AVX-512) or 4×16 (AVX2)
 * register-blocked micro-kernel) and {@code Gemv} (matrix-vector and rank-1 shapes);
 * {@link io.lowbit.tensor.cpu.SgemmBench} measures its throughput without JMH.
 */
package io.lowbit.tensor.cpu;
