package io.lowbit.quant.modulora;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.nn.QuantLinear;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * y = x·deq(Q)ᵀ + (α/r)·B·A·dropout(x) (ModuLoRA spec; Hu et al. 2021 eq. 3 over a quantized base):
 * the base is a frozen {@link QuantLinear} (no gradient, nothing dense saved for backward), A [r, in] is
 * Kaiming-uniform (bound 1/√in, PyTorch's {@code kaiming_uniform_(a=√5)}), B [out, r] starts at zero so the
 * layer starts equal to the quantized base. A and B live in {@link MemoryCategory#ADAPTERS}.
 */
public final class ModuLoraLinear extends Layer {
    private final QuantLinear base;
    private final Parameter loraA, loraB;
    private final double scale, dropout;
    private final Rng dropoutRng;

    /** Adapters in F32. */
    public ModuLoraLinear(QuantLinear base, LoraConfig cfg, Rng rng) {
        this(base, cfg, rng, DType.F32);
    }

    /** Adapters of the given dtype over {@code base} (owned: closed with this layer). */
    public ModuLoraLinear(QuantLinear base, LoraConfig cfg, Rng rng, DType dtype) {
        this.base = registerModule("base", base);
        int in = base.inFeatures, out = base.outFeatures, r = cfg.rank();
        double bound = 1 / Math.sqrt(in);
        this.loraA = registerParameter("lora_A", new Parameter(Tensor.uniform(dtype, rng.fork("lora_A"), -bound, bound, r, in)));
        this.loraB = registerParameter("lora_B", new Parameter(Tensor.zeros(dtype, out, r)));
        loraA.data().label(MemoryCategory.ADAPTERS);
        loraB.data().label(MemoryCategory.ADAPTERS);
        this.scale = cfg.scale();
        this.dropout = cfg.dropout();
        this.dropoutRng = rng.fork("lora_dropout");
    }

    /** The frozen quantized base. */
    public QuantLinear base() { return base; }

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
        Var update = F.mul(F.linear(F.linear(h, loraA), loraB), scale);
        return F.add(y, update);
    }
}
