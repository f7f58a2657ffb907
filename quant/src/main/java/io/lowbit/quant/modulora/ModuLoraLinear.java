package io.lowbit.quant.modulora;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.nn.QuantLinear;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * y = x·deq(Q)ᵀ + (α/r)·B·A·dropout(x) (ModuLoRA spec; Hu et al. 2021 eq. 3 over a quantized base):
 * the base is a frozen {@link QuantLinear} (no gradient, nothing dense saved for backward), A [r, in] is
 * Kaiming-uniform (bound 1/√in, PyTorch's {@code kaiming_uniform_(a=√5)}), B [out, r] starts at zero so the
 * layer starts equal to the quantized base. A and B live in {@link MemoryCategory#ADAPTERS}.
 *
 * <p>The base may also be a full-precision {@link Linear} with a frozen weight: that is plain LoRA (Hu et al.
 * 2021) with the very same adapters, dropout and initialization, so fp LoRA, QLoRA and ModuLoRA differ only in
 * the base layer.
 */
public final class ModuLoraLinear extends Layer {
    private final Layer base; // a QuantLinear, or a Linear without bias whose weight is frozen
    private final Parameter loraA, loraB;
    private final double scale, dropout;
    private final Rng dropoutRng;

    /** Adapters in F32. */
    public ModuLoraLinear(QuantLinear base, LoraConfig cfg, Rng rng) {
        this(base, cfg, rng, DType.F32);
    }

    /** Adapters of the given dtype over {@code base} (owned: closed with this layer). */
    public ModuLoraLinear(QuantLinear base, LoraConfig cfg, Rng rng, DType dtype) {
        this(base, base.inFeatures, base.outFeatures, cfg, rng, dtype);
    }

    /**
     * Plain LoRA: F32 adapters over a full-precision {@code base} (owned; its weight is frozen here, it must have
     * no bias).
     */
    public ModuLoraLinear(Linear base, LoraConfig cfg, Rng rng) {
        this(frozen(base), base.inFeatures, base.outFeatures, cfg, rng, base.weight().dtype());
    }

    private static Linear frozen(Linear l) {
        if (l.bias() != null) throw new IllegalArgumentException("LoRA base linears with a bias are not supported");
        l.weight().requiresGrad(false);
        return l;
    }

    private ModuLoraLinear(Layer base, int in, int out, LoraConfig cfg, Rng rng, DType dtype) {
        this.base = registerModule("base", base);
        int r = cfg.rank();
        double bound = 1 / Math.sqrt(in);
        this.loraA = registerParameter("lora_A", new Parameter(Tensor.uniform(dtype, rng.fork("lora_A"), -bound, bound, r, in)));
        this.loraB = registerParameter("lora_B", new Parameter(Tensor.zeros(dtype, out, r)));
        loraA.data().label(MemoryCategory.ADAPTERS);
        loraB.data().label(MemoryCategory.ADAPTERS);
        this.scale = cfg.scale();
        this.dropout = cfg.dropout();
        this.dropoutRng = rng.fork("lora_dropout");
    }

    /** The frozen base: a {@link QuantLinear} (ModuLoRA, QLoRA) or a {@link Linear} (LoRA). */
    public Layer base() { return base; }

    /** The base's packed weight holder, or null for a full-precision base. */
    public QuantLinear quantizedBase() { return base instanceof QuantLinear q ? q : null; }

    /** The stream adapter dropout draws from (its position belongs in a resumable checkpoint). */
    public Rng dropoutRng() { return dropoutRng; }

    /** A [r, in]. */
    public Parameter loraA() { return loraA; }

    /** B [out, r]. */
    public Parameter loraB() { return loraB; }

    /** α/r. */
    public double scale() { return scale; }

    @Override
    public Var forward(Var x) {
        Var y = base.forward(x);
        Var h = dropout > 0 ? F.dropout(x, dropout, dropoutRng, isTraining()) : x;
        Var update = F.linear(F.mul(F.linear(h, loraA), scale), loraB); // (α/r) applied on the rank-r side: one full-width temporary less
        return F.add(y, update);
    }

    /**
     * W_eff = deq(Q) + (α/r)·B·A [out, in] as a new F32 tensor (W instead of deq(Q) for a full-precision base):
     * the dense weight a merged export holds. Allocates one dense matrix; for export, not for training.
     */
    public Tensor effectiveWeight() {
        Tensor w = base instanceof QuantLinear q ? q.weight().dequantize() : ((Linear) base).weight().data().to(DType.F32);
        try (MemoryScope _ = MemoryScope.open()) {
            w.addInPlace(loraB.data().to(DType.F32).matmul(loraA.data().to(DType.F32)), scale);
        }
        return w;
    }
}
