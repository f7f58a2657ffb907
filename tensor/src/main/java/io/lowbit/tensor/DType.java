package io.lowbit.tensor;

/**
 * Element types a {@link Tensor} can hold. Compute happens in {@link #F32} (and {@link #F64} for gradient
 * checks and factorizations); the others are storage formats reached through {@link Tensor#to(DType)}.
 */
public enum DType {
    F32(4, true), F64(8, true), BF16(2, true), F16(2, true), I8(1, false), I32(4, false), U8(1, false);

    /** Bytes per element. */
    public final int bytes;
    /** True for floating-point types. */
    public final boolean floating;

    DType(int bytes, boolean floating) {
        this.bytes = bytes;
        this.floating = floating;
    }

    /** The safetensors spelling of this type ("F32", "BF16", "I8", ...). */
    public String safetensorsName() {
        return name();
    }

    /** Parses a safetensors dtype name; throws naming the value if it is not one we read. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        throw new IllegalArgumentException("unsupported safetensors dtype '" + name + "'");
    }
}
