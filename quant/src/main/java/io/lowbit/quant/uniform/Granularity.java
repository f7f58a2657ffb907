package io.lowbit.quant.uniform;

/** Which weights share one scale (and zero point). */
public enum Granularity {
    /** One scale for the whole weight. */
    PER_TENSOR,
    /** One scale per output channel (row). */
    PER_CHANNEL,
    /** One scale per row and per group of consecutive input columns. */
    PER_GROUP;

    /** The lower-case name used in quantization_config ("tensor", "channel", "group"). */
    public String configName() {
        return switch (this) {
            case PER_TENSOR -> "tensor";
            case PER_CHANNEL -> "channel";
            case PER_GROUP -> "group";
        };
    }

    /** Inverse of {@link #configName()}. */
    public static Granularity fromConfigName(String s) {
        for (Granularity g : values()) if (g.configName().equals(s)) return g;
        throw new IllegalArgumentException("unknown granularity '" + s + "' (expected tensor, channel or group)");
    }
}
