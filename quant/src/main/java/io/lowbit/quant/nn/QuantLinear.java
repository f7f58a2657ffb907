package io.lowbit.quant.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.quant.QuantizedTensor;

/**
 * A frozen linear layer y = x·deq(W)ᵀ whose weight is any {@link QuantizedTensor} (affine RTN/GPTQ, NF4,
 * ...): the quantizer is a black box. It has no parameters (the base is not trained). The packed weight's
 * component tensors are registered as buffers (state-dict keys {@code qweight}, {@code scales}, ...), so
 * closing any enclosing module frees them. The forward and the input gradient go through {@link QuantMatmul}.
 */
public class QuantLinear extends Layer {
    /** Input and output sizes. */
    public final int inFeatures, outFeatures;
    private final QuantizedTensor weight;
    private boolean closed;

    /** A layer over {@code weight} [out, in]; takes ownership of it. */
    public QuantLinear(QuantizedTensor weight) {
        if (weight == null) throw new IllegalArgumentException("quantized weight is null");
        this.weight = weight;
        this.inFeatures = weight.cols();
        this.outFeatures = weight.rows();
        for (var e : weight.components().entrySet()) registerBuffer(e.getKey(), e.getValue());
    }

    /** The packed weight (owned by this layer). */
    public QuantizedTensor weight() {
        return weight;
    }

    @Override
    public Var forward(Var x) {
        if (closed) throw new IllegalStateException("QuantLinear [" + outFeatures + ", " + inFeatures + "] was closed");
        return new QuantMatmul(weight).apply(x);
    }

    @Override
    public void close() {
        super.close();
        if (!closed) {
            closed = true;
            weight.close();
        }
    }

    @Override
    public String toString() {
        return "QuantLinear(" + inFeatures + " -> " + outFeatures + ", " + weight + ")";
    }
}
