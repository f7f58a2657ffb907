package io.lowbit.models.quant;

import io.lowbit.models.llama.Linear;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The weight W [out, in] of one decoder linear of a {@link QuantizedLlama}, dense F32 or quantized, with the
 * ownership the model needs to close it. {@code llama.LlamaModel} multiplies dense weights with its own
 * kernels and lets quantized ones run their fused products ({@link Packed#forward}).
 */
public sealed interface LinearWeight extends Linear, AutoCloseable {
    /** Largest row count that runs as fused GEMV per row instead of the tiled matmul. */
    int GEMV_MAX_ROWS = 4;

    /** Bytes of the weight's storage. */
    long bytes();

    @Override
    void close();

    /** A dense F32 weight; closes {@code w} on close only when {@code owned}. */
    record Dense(Tensor w, boolean owned) implements LinearWeight {
        public Dense {
            if (w.dtype() != DType.F32 || w.dim() != 2 || !w.isContiguous())
                throw new IllegalArgumentException("dense linear weight must be contiguous F32 [out, in], got " + w.dtype() + Arrays.toString(w.shape()));
        }

        @Override public int rows() { return w.size(0); }
        @Override public int cols() { return w.size(1); }
        @Override public long bytes() { return w.numel() * 4; }
        @Override public Tensor dense() { return w; }

        @Override
        public void close() {
            if (owned) w.close();
        }
    }

    /** A quantized weight of any format, dequantized on the fly by the fused kernels; owns {@code q}. */
    record Packed(QuantizedTensor q) implements LinearWeight {
        @Override public int rows() { return q.rows(); }
        @Override public int cols() { return q.cols(); }
        @Override public long bytes() { return q.bytes(); }
        @Override public Tensor dense() { return null; }

        /**
         * Up to {@link #GEMV_MAX_ROWS} rows: the fused GEMV per row (codes decoded in registers); more: the
         * tiled dequantize-and-multiply, through off-heap staging of x and y.
         */
        @Override
        public void forward(float[] x, int n, float[] y) {
            int rows = rows(), cols = cols();
            if (n == 1 && x.length == cols && y.length == rows) { // decoding one token: the buffers are the row
                q.gemv(x, y);
                return;
            }
            if (n <= GEMV_MAX_ROWS) {
                float[] xr = new float[cols], yr = new float[rows];
                for (int t = 0; t < n; t++) {
                    System.arraycopy(x, t * cols, xr, 0, cols);
                    q.gemv(xr, yr);
                    System.arraycopy(yr, 0, y, t * rows, rows);
                }
                return;
            }
            try (Tensor xs = Tensor.empty(DType.F32, MemoryCategory.ACTIVATIONS, n, cols);
                 Tensor ys = Tensor.empty(DType.F32, MemoryCategory.ACTIVATIONS, n, rows)) {
                MemorySegment.copy(x, 0, xs.segment(), ValueLayout.JAVA_FLOAT, 0, n * cols);
                TiledMatmul.forward(q, xs.segment(), 0, n, ys.segment(), 0);
                MemorySegment.copy(ys.segment(), ValueLayout.JAVA_FLOAT, 0, y, 0, n * rows);
            }
        }

        @Override
        public void close() {
            q.close();
        }
    }
}
