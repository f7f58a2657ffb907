package io.lowbit.quant.nn;

import io.lowbit.autograd.Function;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.Rows;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * y = x·deq(W)ᵀ for a frozen quantized W [out, in] (ModuLoRA, Yin et al. 2023, §3): forward runs the fused
 * dequantizing GEMV (at most {@link #GEMV_MAX_ROWS} rows) or the tiled matmul; backward gives only
 * dL/dx = dy·deq(W), re-materializing W tile by tile into {@link io.lowbit.tensor.MemoryCategory#SCRATCH}
 * buffers ({@link TiledMatmul#backwardInput}). Nothing is saved for backward: the packed weight is a plain
 * field (owned by the layer), so no dense copy of W exists between forward and backward.
 *
 * <p>Computation is in F32; inputs of another floating dtype are converted and the result is returned in
 * the input's dtype.
 */
public final class QuantMatmul extends Function {
    /** Largest number of input rows that runs as row-by-row GEMV instead of the tiled matmul. */
    public static final int GEMV_MAX_ROWS = 4;

    private final QuantizedTensor weight;
    private DType inputType;

    /** A node multiplying by {@code weight} (not owned). */
    public QuantMatmul(QuantizedTensor weight) {
        if (weight == null) throw new IllegalArgumentException("quantized weight is null");
        this.weight = weight;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0];
        int cols = weight.cols(), rows = weight.rows();
        if (x.dim() < 1 || x.size(-1) != cols)
            throw new IllegalArgumentException("QuantLinear input " + Arrays.toString(x.shape()) + " does not end in in_features " + cols
                    + " (weight [" + rows + ", " + cols + "])");
        inputType = x.dtype();
        int[] shape = x.shape();
        shape[shape.length - 1] = rows;
        return withDtype(multiply(weight, x, shape), inputType);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        if (!needsInputGrad(0)) return new Tensor[] {null};
        return new Tensor[] {withDtype(inputGradient(weight, g), inputType)};
    }

    /**
     * dL/dx = dy·deq(W) [..., in] in F32 for dy [..., out], re-materializing W tile by tile into scratch
     * ({@link TiledMatmul#backwardInput}); also used by fused ops over a quantized base.
     */
    public static Tensor inputGradient(QuantizedTensor weight, Tensor g) {
        int[] shape = g.shape();
        shape[shape.length - 1] = weight.cols();
        Tensor gs = Rows.denseF32(g);
        try {
            int n = Math.toIntExact(gs.numel() / weight.rows());
            Tensor dx = Tensor.empty(DType.F32, shape);
            if (n > 0) TiledMatmul.backwardInput(weight, gs.segment(), gs.offset(), n, dx.segment(), 0); // dL/dx = dy·deq(W)
            return dx;
        } finally {
            if (gs != g) gs.close();
        }
    }

    /** y [shape] = x·deq(W)ᵀ in F32 without recording (the forward kernel, also used for inference and fused ops). */
    public static Tensor multiply(QuantizedTensor weight, Tensor x, int[] outShape) {
        int cols = weight.cols(), rows = weight.rows();
        Tensor xs = Rows.denseF32(x);
        try {
            int n = Math.toIntExact(xs.numel() / cols);
            Tensor y = Tensor.empty(DType.F32, outShape);
            if (n <= GEMV_MAX_ROWS) {
                float[] xr = new float[cols], yr = new float[rows];
                for (int i = 0; i < n; i++) {
                    MemorySegment.copy(xs.segment(), ValueLayout.JAVA_FLOAT, xs.byteOffset() + 4L * i * cols, xr, 0, cols);
                    weight.gemv(xr, yr);
                    MemorySegment.copy(yr, 0, y.segment(), ValueLayout.JAVA_FLOAT, 4L * i * rows, rows);
                }
            } else {
                TiledMatmul.forward(weight, xs.segment(), xs.offset(), n, y.segment(), 0);
            }
            return y;
        } finally {
            if (xs != x) xs.close();
        }
    }

    /** {@code f32} as dtype {@code want}: itself, or a converted copy (then {@code f32} is closed). */
    public static Tensor withDtype(Tensor f32, DType want) {
        if (want == DType.F32) return f32;
        Tensor t = f32.to(want);
        f32.close();
        return t;
    }
}
