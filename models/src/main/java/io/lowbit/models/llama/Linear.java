package io.lowbit.models.llama;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Gemv;

import java.util.Arrays;

/**
 * The weight W [rows = out, cols = in] of one decoder linear, behind the product y = x·Wᵀ. A dense weight
 * hands {@link LlamaModel} its F32 matrix ({@link #dense()}), which the model multiplies with its own
 * parallel GEMV kernels; any other storage (the quantized weights of {@code models.quant}) computes the
 * product itself in {@link #forward}.
 */
public interface Linear {
    /** Output features. */
    int rows();

    /** Input features. */
    int cols();

    /** The contiguous F32 [rows, cols] matrix when W is stored densely, else null. */
    Tensor dense();

    /**
     * y[t·rows + r] = Σ_c W[r, c]·x[t·cols + c] for t &lt; n (row-major heap rows from index 0). This default
     * is the plain loop over {@link #dense()}; {@link LlamaModel} runs dense weights through its own kernels
     * and calls this only for weights that are not dense, which override it.
     */
    default void forward(float[] x, int n, float[] y) {
        Tensor w = dense();
        int rows = rows(), cols = cols();
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++) y[t * rows + r] = Gemv.dot(w.segment(), w.offset() + (long) r * cols, x, t * cols, cols);
    }

    /** A dense F32 weight (not owned: closing the model does not close it). */
    record Dense(Tensor weight) implements Linear {
        public Dense {
            if (weight.dtype() != DType.F32 || weight.dim() != 2 || !weight.isContiguous())
                throw new IllegalArgumentException("dense linear weight must be contiguous F32 [out, in], got " + weight.dtype() + Arrays.toString(weight.shape()));
        }

        @Override public int rows() { return weight.size(0); }
        @Override public int cols() { return weight.size(1); }
        @Override public Tensor dense() { return weight; }
    }
}
