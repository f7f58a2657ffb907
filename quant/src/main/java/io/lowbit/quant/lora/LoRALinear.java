package io.lowbit.quant.lora;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * LoRA (Hu et al. 2021; specs/baselines.md): W_eff = W₀ + scale·B·A with W₀ [out, in] frozen in full
 * precision, A (r×in) Kaiming-uniform (PyTorch's kaiming_uniform with a = √5: U(±1/√in)) and B (out×r)
 * zero, so the layer starts as exactly W₀. {@code scale} is LoRA's α/r (passed in already divided).
 * ReLoRA uses {@link #mergeAndReinit(Rng)}: W₀ ← W₀ + scale·B·A, then fresh A and B = 0.
 */
public final class LoRALinear extends Layer {
    /** Sizes and the rank r = min(rank, in, out). */
    public final int inFeatures, outFeatures, rank;
    private final double scale;
    private final Parameter weight, bias, loraA, loraB;

    /**
     * Wraps a copy of {@code weight} [out, in] (and of {@code bias}, trained normally when present).
     *
     * @param scale α/r
     */
    public LoRALinear(Tensor weight, Tensor bias, int rank, double scale, Rng rng) {
        if (weight.dim() != 2 || !weight.dtype().floating)
            throw new IllegalArgumentException("LoRA weight must be a 2-D float tensor [out, in], got " + weight.dtype() + Arrays.toString(weight.shape()));
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
        this.outFeatures = weight.size(0);
        this.inFeatures = weight.size(1);
        if (bias != null && (bias.dim() != 1 || bias.size(0) != outFeatures))
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " does not match weight " + Arrays.toString(weight.shape()));
        this.rank = Math.min(rank, Math.min(inFeatures, outFeatures));
        this.scale = scale;
        this.weight = registerParameter("weight", new Parameter(weight.copy(), false));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.copy()));
        double bound = 1 / Math.sqrt(inFeatures);
        this.loraA = registerParameter("lora_A", new Parameter(Tensor.uniform(weight.dtype(), rng, -bound, bound, this.rank, inFeatures)));
        this.loraB = registerParameter("lora_B", new Parameter(Tensor.zeros(weight.dtype(), outFeatures, this.rank)));
        loraA.data().label(MemoryCategory.ADAPTERS);
        loraB.data().label(MemoryCategory.ADAPTERS);
    }

    /** The frozen W₀. */
    public Parameter weight() { return weight; }
    /** The bias or null. */
    public Parameter bias() { return bias; }
    /** A (r×in). */
    public Parameter loraA() { return loraA; }
    /** B (out×r). */
    public Parameter loraB() { return loraB; }
    /** α/r. */
    public double scale() { return scale; }

    @Override
    public Var forward(Var x) {
        Var base = F.linear(x, weight);
        Var low = F.mul(F.linear(F.linear(x, loraA), loraB), scale); // scale·(x·Aᵀ)·Bᵀ
        Var y = F.add(base, low);
        return bias == null ? y : F.add(y, bias);
    }

    /** W₀ + scale·B·A as a new tensor [out, in]. */
    public Tensor effectiveWeight() {
        Tensor out = weight.data().copy();
        try (MemoryScope s = MemoryScope.open()) {
            out.addInPlace(loraB.data().matmul(loraA.data()), scale);
        }
        return out;
    }

    /**
     * ReLoRA's restart: merge W₀ ← W₀ + scale·B·A, then re-initialize A (Kaiming-uniform from {@code rng})
     * and B = 0, so W_eff is unchanged. The Parameter objects stay the same (their data is overwritten).
     */
    public void mergeAndReinit(Rng rng) {
        try (MemoryScope s = MemoryScope.open()) {
            weight.data().addInPlace(loraB.data().matmul(loraA.data()), scale);
            double bound = 1 / Math.sqrt(inFeatures);
            loraA.data().copyFrom(Tensor.uniform(loraA.dtype(), rng, -bound, bound, rank, inFeatures));
            loraB.data().fill(0);
        }
    }
}
