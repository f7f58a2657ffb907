package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;

/** RMS normalization over the last dimension with a learned gain initialized to ones ({@code nn.RMSNorm}). */
public class RMSNorm extends Layer {
    private final Parameter weight;
    private final double eps;

    /** An F32 norm over {@code dim} features. */
    public RMSNorm(int dim, double eps) {
        this(dim, eps, DType.F32);
    }

    /** A norm over {@code dim} features with a gain of the given dtype. */
    public RMSNorm(int dim, double eps, DType dtype) {
        this.eps = eps;
        weight = registerParameter("weight", new Parameter(Tensor.full(dtype, 1.0, dim)));
    }

    /** The gain [dim]. */
    public Parameter weight() { return weight; }

    /** The ε added to mean(x²). */
    public double eps() { return eps; }

    @Override
    public Var forward(Var x) {
        return F.rmsNorm(x, weight, eps);
    }
}
