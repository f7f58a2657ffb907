package io.lowbit.quant;

import io.lowbit.quant.kernels.Rows;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A frozen quantized linear layer y = x·Wᵀ (+ b) for any {@link QuantizedTensor} format, for inference.
 * Inputs with at most {@link #GEMV_MAX_ROWS} rows (decoding) use the fused GEMV; larger batches use the
 * tiled dequantize-then-{@code Sgemm} path. {@link #backwardInput(Tensor)} gives the input gradient
 * gradOut·W through the same tiles (the quantized base gets no gradient), so an autograd wrapper only
 * has to call these two methods.
 *
 * <p>Owns its weight and bias: {@link #close()} closes both.
 */
public final class QuantLinear implements AutoCloseable {
    /** Largest number of input rows that runs as row-by-row GEMV instead of the tiled matmul. */
    public static final int GEMV_MAX_ROWS = 4;

    private final QuantizedTensor weight;
    private final Tensor bias;

    /** A layer over {@code weight} [out, in] with an optional F32 {@code bias} [out] (may be null); takes ownership of both. */
    public QuantLinear(QuantizedTensor weight, Tensor bias) {
        if (weight == null) throw new IllegalArgumentException("weight is null");
        if (bias != null && (bias.dim() != 1 || bias.size(0) != weight.rows()))
            throw new IllegalArgumentException("bias shape " + Arrays.toString(bias.shape()) + " does not match weight rows " + weight.rows());
        this.weight = weight;
        this.bias = bias;
    }

    /** Input features. */
    public int inFeatures() {
        return weight.cols();
    }

    /** Output features. */
    public int outFeatures() {
        return weight.rows();
    }

    /** The quantized weight (owned by this layer). */
    public QuantizedTensor weight() {
        return weight;
    }

    /** The bias, or null. */
    public Tensor bias() {
        return bias;
    }

    /** y [..., out] = x [..., in]·Wᵀ + b, a new F32 activation tensor. */
    public Tensor forward(Tensor x) {
        int in = weight.cols(), out = weight.rows();
        if (x.dim() < 1 || x.size(-1) != in)
            throw new IllegalArgumentException("QuantLinear input " + Arrays.toString(x.shape()) + " does not end in in_features " + in
                    + " (weight [" + out + ", " + in + "])");
        int[] shape = x.shape();
        shape[shape.length - 1] = out;
        Tensor xs = Rows.denseF32(x);
        try {
            int n = Math.toIntExact(xs.numel() / in);
            Tensor y = Tensor.empty(DType.F32, shape);
            if (n <= GEMV_MAX_ROWS) {
                float[] xr = new float[in], yr = new float[out];
                for (int i = 0; i < n; i++) {
                    MemorySegment.copy(xs.segment(), ValueLayout.JAVA_FLOAT, xs.byteOffset() + 4L * i * in, xr, 0, in);
                    weight.gemv(xr, yr);
                    MemorySegment.copy(yr, 0, y.segment(), ValueLayout.JAVA_FLOAT, 4L * i * out, out);
                }
            } else if (n > 0) {
                TiledMatmul.forward(weight, xs.segment(), xs.offset(), n, y.segment(), 0);
            }
            if (bias != null) addBias(y, n, out);
            return y;
        } finally {
            if (xs != x) xs.close();
        }
    }

    /** gradIn [..., in] = gradOut [..., out]·W, a new F32 activation tensor (no weight gradient). */
    public Tensor backwardInput(Tensor gradOut) {
        int in = weight.cols(), out = weight.rows();
        if (gradOut.dim() < 1 || gradOut.size(-1) != out)
            throw new IllegalArgumentException("QuantLinear gradOut " + Arrays.toString(gradOut.shape()) + " does not end in out_features " + out
                    + " (weight [" + out + ", " + in + "])");
        int[] shape = gradOut.shape();
        shape[shape.length - 1] = in;
        Tensor gs = Rows.denseF32(gradOut);
        try {
            int n = Math.toIntExact(gs.numel() / out);
            Tensor dx = Tensor.empty(DType.F32, shape);
            if (n > 0) TiledMatmul.backwardInput(weight, gs.segment(), gs.offset(), n, dx.segment(), 0);
            return dx;
        } finally {
            if (gs != gradOut) gs.close();
        }
    }

    private void addBias(Tensor y, int n, int out) {
        float[] b = bias.toFloatArray();
        MemorySegment s = y.segment();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) {
                long e = (long) i * out + j;
                s.setAtIndex(ValueLayout.JAVA_FLOAT, e, s.getAtIndex(ValueLayout.JAVA_FLOAT, e) + b[j]);
            }
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.close();
    }
}
