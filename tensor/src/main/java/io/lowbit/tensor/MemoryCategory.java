package io.lowbit.tensor;

/**
 * What an allocation is for. The allocator keeps live and peak byte counters per category, and the
 * training memory reports read them (nothing is estimated that can be measured).
 */
public enum MemoryCategory {
    /** Full-precision model parameters. */
    WEIGHTS,
    /** Packed quantized weights with their scales and zero points. */
    QUANTIZED,
    /** Low-rank adapter factors and projections (LoRA/LoQT/LR-QAT). */
    ADAPTERS,
    /** Parameter gradients. */
    GRADIENTS,
    /** Optimizer states (Adam moments, 8-bit codes and scales). */
    OPTIMIZER,
    /** Activations, saved-for-backward tensors and op outputs. */
    ACTIVATIONS,
    /** Reusable scratch buffers (packing panels, dequantized tiles). */
    SCRATCH
}
