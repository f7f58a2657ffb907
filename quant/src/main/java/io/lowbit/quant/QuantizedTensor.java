package io.lowbit.quant;

import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * A quantized weight [rows = out, cols = in]: packed codes and their scales (zeros, g_idx, absmax codes)
 * held as tensors in {@link MemoryCategory#QUANTIZED}. Every method produces one of these, so consumers
 * (QuantLinear, ModuLoRA, QLoRA) treat the quantizer as a black box: they only dequantize tiles and run
 * the fused GEMV.
 *
 * <p>Closing releases the component tensors. The dense weight is never needed for compute: {@link #gemv}
 * decodes codes in registers and {@link #dequantizeTile} decodes one cache-sized tile at a time.
 */
public interface QuantizedTensor extends AutoCloseable {
    /** Output channels (rows of the weight). */
    int rows();

    /** Input features (columns of the weight). */
    int cols();

    /** Code width in bits (2, 3, 4, 8). */
    int bits();

    /** The storage layout's name ("affine" or "nf4"). */
    String format();

    /** Bytes of all component tensors (codes, scales, zeros, g_idx, absmax codes, ...). */
    long bytes();

    /** Storage cost per weight: 8·bytes() / (rows·cols). */
    default double bitsPerWeight() {
        return 8.0 * bytes() / ((double) rows() * cols());
    }

    /** The dense F32 weight [rows, cols] in {@link MemoryCategory#WEIGHTS}; the caller closes it. */
    default Tensor dequantize() {
        Tensor out = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, rows(), cols());
        dequantizeTile(0, rows(), 0, cols(), out.segment(), 0, cols());
        return out;
    }

    /**
     * Writes W[r0:r1, c0:c1] as floats into {@code dst}: element (r, c) goes to float index
     * {@code dstOff + (r - r0)·ld + (c - c0)}.
     */
    void dequantizeTile(int r0, int r1, int c0, int c1, MemorySegment dst, long dstOff, int ld);

    /** Fused decode-time GEMV y = W·x (x has cols() values, y gets rows()) without materializing W. */
    void gemv(float[] x, float[] y);

    /**
     * The component tensors by safetensors name suffix ("qweight", "scales", "zeros", "g_idx",
     * "absmax", "absmax_q", ...). The tensors are this object's own storage: read them, do not close them.
     */
    Map<String, Tensor> components();

    /** The quantization_config fields that, with {@link #components()}, rebuild this tensor exactly. */
    Map<String, String> quantizationConfig();

    /** Releases the component tensors (idempotent). */
    @Override
    void close();

    /**
     * Rebuilds a quantized tensor bit-exactly from {@link #components()} and {@link #quantizationConfig()}
     * (for instance as read back from a checkpoint). The components are copied; the caller keeps
     * ownership of the tensors it passes.
     */
    static QuantizedTensor fromComponents(Map<String, Tensor> components, Map<String, String> config) {
        String format = config.get("format");
        if (format == null) throw new IllegalArgumentException("quantization_config has no 'format' field: " + config);
        return switch (format) {
            case AffineQuantizedTensor.FORMAT -> AffineQuantizedTensor.fromComponents(components, config);
            case Nf4Tensor.FORMAT -> Nf4Tensor.fromComponents(components, config);
            default -> throw new IllegalArgumentException("unknown quantized tensor format '" + format + "'");
        };
    }
}
