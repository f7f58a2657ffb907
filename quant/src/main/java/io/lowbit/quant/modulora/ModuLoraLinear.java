package io.lowbit.quant.modulora;

import io.lowbit.autograd.Function;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.Dropout;
import io.lowbit.quant.nn.QuantLinear;
import io.lowbit.quant.nn.QuantMatmul;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

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
        int in = loraA.size(1);
        if (x.dim() < 1 || x.size(-1) != in)
            throw new IllegalArgumentException("ModuLoraLinear input " + Arrays.toString(x.shape()) + " does not end in in_features " + in
                    + " (lora_A " + Arrays.toString(loraA.shape()) + ", lora_B " + Arrays.toString(loraB.shape()) + ")");
        return new ModuLoraFn(dropout > 0 && isTraining()).apply(x, loraA, loraB);
    }

    /**
     * y = x·deq(Q)ᵀ + (α/r)·(dropout(x)·Aᵀ)·Bᵀ as one autograd node (ModuLoRA spec eq. for the adapted layer; Hu et
     * al. 2021 eq. 3). It keeps only x (the caller's tensor) and us = (α/r)·dropout(x)·Aᵀ [n, r] for backward,
     * plus the dropout stream position (the mask is regenerated, as {@link Dropout} does). Composing base,
     * dropout, linear, mul and add instead left the base output, the B·A product and their sum ([n, out] each)
     * and the dropped-out input [n, in] alive per layer until the end of the step.
     *
     * <p>Backward: dx = dy·deq(Q) (tile by tile into scratch, {@link QuantMatmul#inputGradient}) +
     * mask⊙((α/r)·(dy·B)·A)/(1 − p); dA = ((α/r)·dy·B)ᵀ·dropout(x); dB = dyᵀ·us; the base gets no gradient.
     * The operations and their order are those of the composed graph, so results are bit-identical to it.
     */
    private final class ModuLoraFn extends Function {
        private final boolean dropping;
        private long start; // dropout stream position of this application's mask

        ModuLoraFn(boolean dropping) { this.dropping = dropping; }

        @Override
        protected Tensor forward(Tensor... in) {
            Tensor x = in[0], a = in[1], b = in[2];
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor y = baseForward(x);
                Tensor h = x;
                if (dropping) {
                    start = dropoutRng.advance(x.numel()); // the stream advances exactly as F.dropout's does
                    h = Dropout.masked(x, dropout, dropoutRng, start);
                }
                Tensor us = h.matmul(a.t()).mul(scale); // (α/r) applied on the rank-r side
                y.addInPlace(us.matmul(b.t()));
                saveForBackward(x, sc.keep(us));
                return sc.keep(y);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor[] out = new Tensor[3];
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor x = saved(0), us = saved(1);
                Tensor g2 = g.reshape(-1, g.size(-1)), us2 = us.reshape(-1, us.size(-1));
                Tensor gb = g2.matmul(loraB.data()).mul(scale); // ∂L/∂u = (α/r)·dy·B [n, r]
                if (needsInputGrad(0)) {
                    Tensor dh = gb.matmul(loraA.data()).reshape(x.shape()); // ∂L/∂dropout(x)
                    if (dropping) dh = Dropout.masked(dh, dropout, dropoutRng, start);
                    Tensor dx = baseInputGradient(g, x.dtype());
                    dx.addInPlace(dh);
                    out[0] = sc.keep(dx);
                }
                if (needsInputGrad(1)) {
                    Tensor h = dropping ? Dropout.masked(x, dropout, dropoutRng, start) : x;
                    out[1] = sc.keep(gb.t().matmul(h.reshape(-1, h.size(-1)))); // dA
                }
                if (needsInputGrad(2)) out[2] = sc.keep(g2.t().matmul(us2)); // dB
            }
            return out;
        }
    }

    /** x·deq(Q)ᵀ (fused dequantizing kernels, no dense weight) or x·Wᵀ, as a new tensor of x's dtype. */
    private Tensor baseForward(Tensor x) {
        if (base instanceof QuantLinear q) {
            int[] shape = x.shape();
            shape[shape.length - 1] = q.outFeatures;
            return QuantMatmul.withDtype(QuantMatmul.multiply(q.weight(), x, shape), x.dtype());
        }
        return x.matmul(((Linear) base).weight().data().t());
    }

    /** dy·deq(Q) (re-materialized tile by tile into scratch) or dy·W, as a new tensor of dtype {@code dtype}. */
    private Tensor baseInputGradient(Tensor g, DType dtype) {
        if (base instanceof QuantLinear q) return QuantMatmul.withDtype(QuantMatmul.inputGradient(q.weight(), g), dtype);
        Tensor w = ((Linear) base).weight().data();
        int[] shape = g.shape();
        shape[shape.length - 1] = w.size(1);
        return g.reshape(-1, g.size(-1)).matmul(w).reshape(shape);
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
