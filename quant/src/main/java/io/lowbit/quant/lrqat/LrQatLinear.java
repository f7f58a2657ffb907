package io.lowbit.quant.lrqat;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * An LR-QAT linear layer (spec "Forward"): y = x·Ŵᵀ (+ b) with
 * Ŵ = s·clamp(round_STE(Φ0 + (α/r)·A·B), −2^(b−1), 2^(b−1)−1), Φ0 = φ(W0/s0).
 *
 * <p>Trainable: {@code lora_A} (A [out, r], zeros), {@code lora_B} (B [r, in], Kaiming-uniform ±1/√in),
 * {@code scale} (s [out, numGroups], initialized to s0 from {@link LpRangeSearch}). Frozen: Φ0 (buffer
 * {@code phi0}, downcast per {@link Downcast}) and the bias. The spec and our issue agree that A is the
 * zero-initialized factor, so Ŵ starts as the round-to-nearest weight s0·clamp(round(Φ0)).
 * W0 itself is not kept: Φ0 is computed once, at construction (the spec's "at the first forward").
 *
 * <p>{@link #merge()} returns the plain integer weight W_int = clamp(round(Φ0 + (α/r)AB)) with scale s as
 * a symmetric {@link AffineQuantizedTensor}: no inference overhead, and it dequantizes bit-exactly to the
 * F32 fake-quantized weight.
 */
public final class LrQatLinear extends Layer {
    private final LrQatConfig config;
    private final Phi0 phi0;
    private final Parameter a, b, s, bias;
    /** Input and output features. */
    public final int inFeatures, outFeatures;

    /**
     * Builds the layer from the pretrained {@code w0} [out, in] (read, not kept) and an optional
     * {@code bias} [out] (copied, frozen); parameters in {@code dtype} (F32 for training, F64 for checks).
     */
    public LrQatLinear(Tensor w0, Tensor bias, LrQatConfig config, Rng rng, DType dtype) {
        if (w0.dim() != 2) throw new IllegalArgumentException("LR-QAT weight must be [out, in], got " + Arrays.toString(w0.shape()));
        if (bias != null && (bias.dim() != 1 || bias.size(0) != w0.size(0)))
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " does not match weight " + Arrays.toString(w0.shape()));
        this.config = config;
        this.outFeatures = w0.size(0);
        this.inFeatures = w0.size(1);
        int gc = config.groupCols(inFeatures), ng = (inFeatures + gc - 1) / gc;
        float[] s0 = LpRangeSearch.scales(w0, config.bits(), gc, config.rangeP());
        this.phi0 = Phi0.of(w0, s0, gc, config.bits(), config.downcast());
        registerBuffer("phi0", phi0.data());
        double bound = 1 / Math.sqrt(inFeatures);
        this.a = registerParameter("lora_A", new Parameter(Tensor.zeros(dtype, outFeatures, config.rank())));
        this.b = registerParameter("lora_B", new Parameter(Tensor.uniform(dtype, rng, -bound, bound, config.rank(), inFeatures)));
        a.data().label(MemoryCategory.ADAPTERS);
        b.data().label(MemoryCategory.ADAPTERS);
        Tensor sT = Tensor.empty(dtype, outFeatures, ng);
        for (int i = 0; i < s0.length; i++) sT.setDouble(i, s0[i]);
        this.s = registerParameter("scale", new Parameter(sT));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.to(dtype), false));
    }

    /** Replaces an {@link Linear}: builds the LR-QAT layer from its weight and bias (the Linear is not closed). */
    public static LrQatLinear from(Linear linear, LrQatConfig config, Rng rng) {
        Parameter lb = linear.bias();
        return new LrQatLinear(linear.weight().data(), lb == null ? null : lb.data(), config, rng, linear.weight().dtype());
    }

    @Override
    public Var forward(Var x) {
        Var in = config.quantizeActivations() ? ActQuant8.quantize(x) : x;
        Var y = new LrQatFunction(phi0, config.scaling(), config.groupCols(inFeatures)).apply(in, a, b, s);
        return bias == null ? y : F.add(y, bias);
    }

    /** The dense fake-quantized weight Ŵ [out, in] (a new tensor the caller closes). */
    public Tensor fakeQuantWeight() {
        return new LrQatFunction(phi0, config.scaling(), config.groupCols(inFeatures)).fakeQuantWeight(a.data(), b.data(), s.data());
    }

    /**
     * The merged integer weight (spec: "W_int = clamp(round(Φ0 + (α/r)AB)), scale s") as a symmetric
     * b-bit {@link AffineQuantizedTensor} (codes W_int + 2^(b−1), zero 2^(b−1)); the caller closes it.
     */
    public AffineQuantizedTensor merge() {
        int bits = config.bits(), mid = 1 << (bits - 1), gc = config.groupCols(inFeatures);
        AffineSpec spec = config.groupSize() > 0 ? AffineSpec.perGroup(bits, true, config.groupSize()) : AffineSpec.perChannel(bits, true);
        AffineQuantizedTensor q = AffineQuantizedTensor.allocate(outFeatures, inFeatures, spec, false, "lr-qat");
        try (Tensor r = new LrQatFunction(phi0, config.scaling(), gc).roundedGrid(a.data(), b.data())) {
            int ng = s.size(1);
            for (int row = 0; row < outFeatures; row++) {
                for (int g = 0; g < ng; g++) {
                    float sc = (float) s.data().get(row, g);
                    if (!(sc > 0) || !Float.isFinite(sc))
                        throw new IllegalStateException("LR-QAT scale s[" + row + ", " + g + "] = " + sc + " cannot be stored (must be positive, finite)");
                    q.setGrid(row, g, new AffineGrid(sc, mid, spec.maxq()));
                }
                for (int c = 0; c < inFeatures; c++) {
                    int w = (int) Math.max(-mid, Math.min(mid - 1, r.get(row, c)));
                    q.setCode(row, c, w + mid);
                }
            }
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** The settings. */
    public LrQatConfig config() { return config; }
    /** The frozen Φ0. */
    public Phi0 phi0() { return phi0; }
    /** A [out, r]. */
    public Parameter loraA() { return a; }
    /** B [r, in]. */
    public Parameter loraB() { return b; }
    /** s [out, numGroups]. */
    public Parameter scale() { return s; }
    /** The frozen bias, or null. */
    public Parameter bias() { return bias; }
}
