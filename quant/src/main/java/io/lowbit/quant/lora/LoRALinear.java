package io.lowbit.quant.lora;

import io.lowbit.autograd.Function;
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
        if (x.dim() < 1 || x.size(-1) != inFeatures)
            throw new IllegalArgumentException("LoRALinear input " + Arrays.toString(x.shape()) + " does not end in in_features "
                    + inFeatures + " (weight [" + outFeatures + ", " + inFeatures + "])");
        Var y = new LoRAFn(this).apply(x, weight, loraA, loraB);
        return bias == null ? y : F.add(y, bias);
    }

    /**
     * y = x·W₀ᵀ + scale·(x·Aᵀ)·Bᵀ as one autograd node. It keeps only x (the caller's tensor) and u = x·Aᵀ
     * [n, r] for backward; composing linear/linear/mul/add instead left three extra [n, out] intermediates
     * per layer alive until the end of the step (twice the activation memory of full training).
     */
    private static final class LoRAFn extends Function {
        private final LoRALinear l;
        private int[] xShape;

        LoRAFn(LoRALinear l) { this.l = l; }

        @Override
        protected Tensor forward(Tensor... in) {
            Tensor x = in[0], w = in[1], a = in[2], b = in[3];
            xShape = x.shape();
            int[] yShape = x.shape();
            yShape[yShape.length - 1] = l.outFeatures;
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor x2 = x.reshape(-1, l.inFeatures);
                Tensor y = x2.matmul(w.t());
                Tensor u = x2.matmul(a.t()); // x·Aᵀ [n, r]
                y.addInPlace(u.matmul(b.t()), l.scale);
                saveForBackward(sc.keep(x2), sc.keep(u));
                return sc.keep(y).reshape(yShape);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor[] out = new Tensor[4];
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor g2 = g.reshape(-1, l.outFeatures), x2 = saved(0), u = saved(1);
                Tensor w = l.weight.data(), a = l.loraA.data(), b = l.loraB.data();
                Tensor gb = g2.matmul(b); // G·B [n, r]
                if (needsInputGrad(0)) { // dx = G·W₀ + scale·(G·B)·A
                    Tensor dx = g2.matmul(w);
                    dx.addInPlace(gb.matmul(a), l.scale);
                    out[0] = sc.keep(dx).reshape(xShape);
                }
                if (needsInputGrad(1)) out[1] = sc.keep(g2.t().matmul(x2)); // dW₀ = Gᵀ·x (only if W₀ is unfrozen)
                if (needsInputGrad(2)) out[2] = sc.keep(gb.t().matmul(x2).mulInPlace(l.scale)); // dA = scale·(G·B)ᵀ·x
                if (needsInputGrad(3)) out[3] = sc.keep(g2.t().matmul(u).mulInPlace(l.scale)); // dB = scale·Gᵀ·u
            }
            return out;
        }
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
