package io.lowbit.quant;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;

/** Argument checks and component copying shared by the {@link QuantizedTensor} implementations. */
public final class Components {
    private Components() {}

    /** Throws unless [r0, r1) × [c0, c1) lies inside {@code w} and {@code ld} ≥ c1 − c0. */
    public static void checkTile(QuantizedTensor w, int r0, int r1, int c0, int c1, int ld) {
        if (r0 < 0 || r1 > w.rows() || r0 > r1 || c0 < 0 || c1 > w.cols() || c0 > c1 || ld < c1 - c0)
            throw new IndexOutOfBoundsException("tile rows [" + r0 + ", " + r1 + ") cols [" + c0 + ", " + c1 + ") ld " + ld
                    + " outside weight [" + w.rows() + ", " + w.cols() + "]");
    }

    /** Throws unless x has cols() values and y has rows(). */
    public static void checkGemv(QuantizedTensor w, float[] x, float[] y) {
        if (x.length != w.cols() || y.length != w.rows())
            throw new IllegalArgumentException("gemv with weight [" + w.rows() + ", " + w.cols() + "] needs x[" + w.cols()
                    + "] and y[" + w.rows() + "], got x[" + x.length + "] and y[" + y.length + "]");
    }

    /** A required quantization_config field. */
    public static String field(Map<String, String> config, String key) {
        String v = config.get(key);
        if (v == null) throw new IllegalArgumentException("quantization_config is missing '" + key + "': " + config);
        return v;
    }

    /** A required integer field. */
    public static int intField(Map<String, String> config, String key) {
        String v = field(config, key);
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("quantization_config field '" + key + "' is not an integer: '" + v + "'", e);
        }
    }

    /** A required boolean field ("true"/"false"). */
    public static boolean boolField(Map<String, String> config, String key) {
        String v = field(config, key).trim();
        if (v.equals("true")) return true;
        if (v.equals("false")) return false;
        throw new IllegalArgumentException("quantization_config field '" + key + "' is not true/false: '" + v + "'");
    }

    /** Copies component {@code name} byte for byte into {@code dst}, checking presence, dtype and shape. */
    public static void copyInto(Map<String, Tensor> comps, String name, Tensor dst) {
        Tensor src = comps.get(name);
        if (src == null) throw new IllegalArgumentException("missing quantized component '" + name + "' (have " + comps.keySet() + ")");
        if (src.dtype() != dst.dtype() && !(sameWidthInt(src.dtype(), dst.dtype())))
            throw new IllegalArgumentException("component '" + name + "' has dtype " + src.dtype() + ", expected " + dst.dtype());
        if (src.numel() != dst.numel())
            throw new IllegalArgumentException("component '" + name + "' has shape " + Arrays.toString(src.shape())
                    + ", expected " + Arrays.toString(dst.shape()));
        Tensor c = src.contiguous();
        try {
            MemorySegment.copy(c.segment(), c.byteOffset(), dst.segment(), dst.byteOffset(), dst.numel() * dst.dtype().bytes);
        } finally {
            if (c != src) c.close();
        }
    }

    // U8 and I8 hold the same bytes; checkpoints may spell packed codes either way.
    private static boolean sameWidthInt(DType a, DType b) {
        return (a == DType.U8 || a == DType.I8) && (b == DType.U8 || b == DType.I8);
    }
}
