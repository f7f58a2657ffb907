package io.lowbit.models.quant;

import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Gemv;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The weight W [out, in] of one decoder linear, dense F32 or quantized, behind one product
 * Y[n, out] = X[n, in]·Wᵀ on off-heap F32 rows.
 */
public sealed interface LinearWeight extends AutoCloseable {
    /** Largest row count that runs as fused GEMV per row instead of the tiled matmul. */
    int GEMV_MAX_ROWS = 4;

    /** Output features. */
    int rows();

    /** Input features. */
    int cols();

    /** Y[n, rows] (float offset yOff, rows apart) = X[n, cols] (float offset xOff, cols apart)·Wᵀ. */
    void apply(MemorySegment x, long xOff, int n, MemorySegment y, long yOff);

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

        /** {@link Gemv#dot} per row (as {@code LlamaModel}), groups of four rows split across the worker pool. */
        @Override
        public void apply(MemorySegment x, long xOff, int n, MemorySegment y, long yOff) {
            int rows = rows(), cols = cols();
            float[] xs = new float[n * cols], ys = new float[n * rows];
            MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * xOff, xs, 0, xs.length);
            MemorySegment ws = w.segment();
            long base = w.offset();
            Parallel.range((rows + 3) / 4, Math.max(1, 16384 / (4L * cols * n)), (lo, hi) -> {
                for (long g = lo; g < hi; g++) {
                    int r0 = (int) g * 4;
                    for (int r = r0; r < Math.min(r0 + 4, rows); r++)
                        for (int t = 0; t < n; t++) ys[t * rows + r] = Gemv.dot(ws, base + (long) r * cols, xs, t * cols, cols);
                }
            });
            MemorySegment.copy(ys, 0, y, ValueLayout.JAVA_FLOAT, 4 * yOff, ys.length);
        }

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

        @Override
        public void apply(MemorySegment x, long xOff, int n, MemorySegment y, long yOff) {
            if (n > GEMV_MAX_ROWS) {
                TiledMatmul.forward(q, x, xOff, n, y, yOff);
                return;
            }
            float[] xr = new float[cols()], yr = new float[rows()];
            for (int i = 0; i < n; i++) {
                MemorySegment.copy(x, ValueLayout.JAVA_FLOAT, 4 * (xOff + (long) i * cols()), xr, 0, cols());
                q.gemv(xr, yr);
                MemorySegment.copy(yr, 0, y, ValueLayout.JAVA_FLOAT, 4 * (yOff + (long) i * rows()), rows());
            }
        }

        @Override
        public void close() {
            q.close();
        }
    }
}
