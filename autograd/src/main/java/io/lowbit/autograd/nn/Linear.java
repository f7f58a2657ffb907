package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * y = x·Wᵀ + b (PyTorch's {@code nn.Linear}): weight stored [out, in], optional bias [out]. Initialized
 * like PyTorch: W and b uniform in ±1/√in (kaiming_uniform with a = √5 gives exactly this bound),
 * drawn from the given stream, weight first.
 */
public class Linear extends Layer {
    /** Input and output sizes. */
    public final int inFeatures, outFeatures;
    private final Parameter weight;
    private final Parameter bias;

    /** F32 layer with PyTorch's default initialization. */
    public Linear(int inFeatures, int outFeatures, boolean bias, Rng rng) {
        this(inFeatures, outFeatures, bias, rng, DType.F32);
    }

    /** A layer of the given dtype with PyTorch's default initialization. */
    public Linear(int inFeatures, int outFeatures, boolean bias, Rng rng, DType dtype) {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new IllegalArgumentException("Linear(" + inFeatures + ", " + outFeatures + "): sizes must be positive");
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        double bound = 1 / Math.sqrt(inFeatures);
        this.weight = registerParameter("weight", new Parameter(Tensor.uniform(dtype, rng, -bound, bound, outFeatures, inFeatures)));
        this.bias = bias ? registerParameter("bias", new Parameter(Tensor.uniform(dtype, rng, -bound, bound, outFeatures))) : null;
    }

    /** Wraps existing tensors (W [out, in], b [out] or null) as a layer that owns them. */
    public Linear(Tensor weight, Tensor bias) {
        if (weight.dim() != 2) throw new IllegalArgumentException("Linear weight must be [out, in], got " + java.util.Arrays.toString(weight.shape()));
        this.outFeatures = weight.size(0);
        this.inFeatures = weight.size(1);
        this.weight = registerParameter("weight", new Parameter(weight));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias));
    }

    /** The weight [out, in]. */
    public Parameter weight() { return weight; }

    /** The bias, or null. */
    public Parameter bias() { return bias; }

    @Override
    public Var forward(Var x) {
        return F.linear(x, weight, bias);
    }
}
