package io.lowbit.quant.lrqat;

/**
 * The downcasting operator φ of LR-QAT (spec "Downcasting operator φ"): how the frozen W0/s0 is stored.
 */
public enum Downcast {
    /**
     * Fixed point in int8: clamp to [q_min, q_max], multiply by 2^(8−b), round, store int8 ("Q4.4" for
     * b = 4: b integer bits and 8−b fractional bits); upcast divides by 2^(8−b).
     */
    FIXED_POINT_INT8,
    /** round-and-clip(W0/s0) as b-bit integers, double-packed: two codes per byte (one per byte for b &gt; 4). */
    INT_PACKED,
    /** A plain bfloat16 cast of W0/s0. */
    BF16,
    /** A plain float16 cast of W0/s0. */
    F16,
    /** No downcast: W0/s0 kept in float32 (the reference). */
    F32
}
