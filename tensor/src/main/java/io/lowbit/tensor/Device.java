package io.lowbit.tensor;

/** Where a tensor's bytes live. Only {@link #CPU} exists on machines without a GPU. */
public enum Device {
    CPU, CUDA
}
