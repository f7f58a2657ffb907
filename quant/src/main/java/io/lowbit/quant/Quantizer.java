package io.lowbit.quant;

import io.lowbit.tensor.Tensor;

/**
 * A weight quantization method: turns a weight [out, in] (rows = output channels, columns = input
 * features) into a {@link QuantizedTensor}. Methods that need calibration data (GPTQ) receive the
 * layer's real inputs through {@link #observe(Tensor)} before {@link #quantize(Tensor)}; data-free
 * methods (RTN, NF4) ignore them. One quantizer instance serves one layer when it is calibrated.
 */
public interface Quantizer {
    /** Short method name written to checkpoints ("rtn", "nf4", "gptq", ...). */
    String name();

    /** Quantizes {@code weight} (2-D, floating point, [out, in]); the caller owns (closes) the result. */
    QuantizedTensor quantize(Tensor weight);

    /**
     * Feeds one batch of calibration inputs of this layer, shape [..., in] (flattened to [n, in]).
     * May be called any number of times; the default ignores the data.
     */
    default void observe(Tensor activations) {}

    /** True when {@link #quantize(Tensor)} needs {@link #observe(Tensor)} to have been called first. */
    default boolean needsCalibration() {
        return false;
    }
}
