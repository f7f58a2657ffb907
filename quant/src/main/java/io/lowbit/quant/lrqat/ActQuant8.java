package io.lowbit.quant.lrqat;

import io.lowbit.autograd.Function;
import io.lowbit.autograd.Var;
import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;

/**
 * Dynamic per-token asymmetric 8-bit activation fake quantization for LR-QAT's W4A8 setting (spec
 * "Activation quantization"): each token (row of the last dimension) gets its own min-max grid
 * ({@link AffineGrid#fit}: s = (max − min)/255, z = round(−min/s), range widened to contain 0) and
 * x̂ = s·(clamp(round(x/s) + z, 0, 255) − z). Backward is the straight-through estimator: ∂x̂/∂x = 1.
 */
public final class ActQuant8 extends Function {
    /** Number of activation bits. */
    public static final int BITS = 8;

    /** Applies the quantizer (a fresh node per call). */
    public static Var quantize(Var x) {
        return new ActQuant8().apply(x);
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0].contiguous();
        try {
            int d = x.size(-1);
            long tokens = x.numel() / Math.max(1, d);
            Tensor y = Tensor.empty(x.dtype(), x.shape());
            long xo = x.offset();
            Parallel.range(tokens, Math.max(1, 4096 / Math.max(1, d)), (lo, hi) -> {
                for (long t = lo; t < hi; t++) {
                    double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < d; c++) {
                        double v = x.loadAt(xo + t * d + c);
                        mn = Math.min(mn, v);
                        mx = Math.max(mx, v);
                    }
                    AffineGrid grid = AffineGrid.fit(mn, mx, BITS, false);
                    for (int c = 0; c < d; c++)
                        y.storeAt(t * d + c, grid.dequantize(grid.quantize(x.loadAt(xo + t * d + c))));
                }
            });
            return y;
        } finally {
            if (x != in[0]) x.close();
        }
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g};                                   // STE
    }
}
