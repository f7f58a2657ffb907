package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.ValueLayout;

/** Gradient clipping (PyTorch's {@code torch.nn.utils.clip_grad_norm_}). */
public final class ClipGrad {
    private ClipGrad() {}

    /**
     * Scales all gradients by max_norm/(‖g‖ + 1e-6) when the global L2 norm ‖g‖ over every parameter's
     * gradient exceeds {@code maxNorm}; returns ‖g‖ before clipping. Parameters without gradient are
     * skipped.
     */
    public static double clipGradNorm(Iterable<? extends Var> params, double maxNorm) {
        double sq = 0;
        for (Var p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            if (g.dtype() == DType.F32 && g.isContiguous()) {
                var seg = g.segment();
                long o = g.offset();
                for (long i = 0, n = g.numel(); i < n; i++) {
                    double x = seg.getAtIndex(ValueLayout.JAVA_FLOAT, o + i);
                    sq += x * x;
                }
            } else {
                for (long i = 0, n = g.numel(); i < n; i++) sq += g.getDouble(i) * g.getDouble(i);
            }
        }
        double norm = Math.sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) for (Var p : params) if (p.grad() != null) p.grad().mulInPlace(coef);
        return norm;
    }
}
