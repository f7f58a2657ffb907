/**
 * Off-heap tensors: {@link io.lowbit.tensor.Tensor} over {@link java.lang.foreign.MemorySegment}s from the
 * {@link io.lowbit.tensor.Allocator} (live and peak bytes per {@link io.lowbit.tensor.MemoryCategory}),
 * {@link io.lowbit.tensor.MemoryScope} for try-with-resources ownership, dtypes and conversions, views,
 * a counter-based {@link io.lowbit.tensor.Rng}, and the {@link io.lowbit.tensor.Backend} seam ops
 * dispatch through.
 */
package io.lowbit.tensor;
