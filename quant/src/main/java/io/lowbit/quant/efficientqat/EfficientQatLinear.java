package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The Block-AP layer of EfficientQAT (spec "Phase 1"): y = x·Ŵᵀ (+ b) with Ŵ the asymmetric group fake
 * quantization of a trainable weight ({@link AffineFakeQuant}), trainable step sizes {@code scale} and
 * zero points {@code zero} [out, numGroups].
 *
 * <p>Initialization (spec "Quantizer"): per group min-max, s = (max − min)/(2^b − 1) clamped to
 * [1e-4, 1e4], z = round(−min/s) — i.e. the layer starts as round-to-nearest. {@link #project()} keeps
 * s in [1e-4, 1e4] and z in [0, 2^b − 1] after each optimizer step, so the frozen zero point fits the
 * b-bit code range of {@link AffineQuantizedTensor} (the reference implementation clamps z in its forward
 * instead; inside that range both agree). {@link #freeze()} gives the integers (q, s, z).
 */
public final class EfficientQatLinear extends Layer {
    /** Bounds of the step size (spec: s clamped to [1e-4, 1e4]). */
    public static final double S_MIN = 1e-4, S_MAX = 1e4;

    private final int bits, groupSize, groupCols, maxq;
    private final Parameter weight, scale, zero, bias;
    /** Input and output features. */
    public final int inFeatures, outFeatures;

    /**
     * A layer quantizing a copy of {@code w} [out, in] (the caller keeps {@code w}) with {@code bits}-bit
     * codes in groups of {@code groupSize} input columns (≤ 0: one group per row); {@code bias} (may be
     * null) is copied and frozen.
     */
    public EfficientQatLinear(Tensor w, Tensor bias, int bits, int groupSize) {
        if (w.dim() != 2) throw new IllegalArgumentException("EfficientQAT weight must be [out, in], got " + Arrays.toString(w.shape()));
        if (bias != null && (bias.dim() != 1 || bias.size(0) != w.size(0)))
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " does not match weight " + Arrays.toString(w.shape()));
        new AffineSpec(bits, false, io.lowbit.quant.uniform.Granularity.PER_CHANNEL, -1); // validates bits
        this.outFeatures = w.size(0);
        this.inFeatures = w.size(1);
        this.bits = bits;
        this.groupSize = groupSize;
        this.groupCols = groupSize > 0 ? groupSize : inFeatures;
        this.maxq = (1 << bits) - 1;
        int ng = (inFeatures + groupCols - 1) / groupCols;
        Tensor s = Tensor.empty(w.dtype(), outFeatures, ng), z = Tensor.empty(w.dtype(), outFeatures, ng);
        for (int r = 0; r < outFeatures; r++)
            for (int g = 0; g < ng; g++) {
                double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
                for (int c = g * groupCols; c < Math.min(inFeatures, (g + 1) * groupCols); c++) {
                    double v = w.get(r, c);
                    if (!Double.isFinite(v)) throw new IllegalArgumentException("non-finite weight at [" + r + ", " + c + "]");
                    mn = Math.min(mn, v);
                    mx = Math.max(mx, v);
                }
                double sc = Math.max(S_MIN, Math.min(S_MAX, (mx - mn) / maxq));
                if (w.dtype() == DType.F32) sc = (float) sc;
                s.setDouble((long) r * ng + g, sc);
                z.setDouble((long) r * ng + g, Math.max(0, Math.min(maxq, Math.rint(-mn / sc))));
            }
        this.weight = registerParameter("weight", new Parameter(w.copy()));
        this.scale = registerParameter("scale", new Parameter(s));
        this.zero = registerParameter("zero", new Parameter(z));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.copy(), false));
    }

    /** The Block-AP stand-in for {@code linear} (which is read, not closed). */
    public static EfficientQatLinear from(Linear linear, int bits, int groupSize) {
        return new EfficientQatLinear(linear.weight().data(), linear.bias() == null ? null : linear.bias().data(), bits, groupSize);
    }

    @Override
    public Var forward(Var x) {
        return F.linear(x, new AffineFakeQuant(bits, groupCols).apply(weight, scale, zero), bias);
    }

    /** Puts s back into [1e-4, 1e4] and z into [0, 2^b − 1] (call after each optimizer step). */
    public void project() {
        Tensor s = scale.data(), z = zero.data();
        for (long i = 0, n = s.numel(); i < n; i++) {
            s.setDouble(i, Math.max(S_MIN, Math.min(S_MAX, s.getDouble(i))));
            z.setDouble(i, Math.max(0, Math.min(maxq, z.getDouble(i))));
        }
    }

    /**
     * The frozen integers: codes q = clamp(round(W/s) + round(z), 0, 2^b − 1), scales s, zeros round(z)
     * as an asymmetric {@link AffineQuantizedTensor} (the caller closes it). For F32 layers it dequantizes
     * bit-identically to the fake-quantized weight.
     */
    public AffineQuantizedTensor freeze() {
        AffineSpec spec = groupSize > 0 ? AffineSpec.perGroup(bits, false, groupSize) : AffineSpec.perChannel(bits, false);
        AffineQuantizedTensor q = AffineQuantizedTensor.allocate(outFeatures, inFeatures, spec, false, "efficientqat");
        try {
            boolean f32 = weight.dtype() == DType.F32;
            Tensor w = weight.data(), s = scale.data(), z = zero.data();
            int ng = s.size(1);
            for (int r = 0; r < outFeatures; r++)
                for (int g = 0; g < ng; g++) {
                    double sc = s.get(r, g);
                    int zr = (int) Math.max(0, Math.min(maxq, Math.rint(z.get(r, g))));
                    q.setGrid(r, g, new AffineGrid((float) sc, zr, maxq));
                    for (int c = g * groupCols; c < Math.min(inFeatures, (g + 1) * groupCols); c++)
                        q.setCode(r, c, AffineFakeQuant.code(w.get(r, c), sc, zr, maxq, f32));
                }
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** Code bits. */
    public int bits() { return bits; }
    /** Input columns per group (≤ 0: per channel). */
    public int groupSize() { return groupSize; }
    /** The trainable weight [out, in]. */
    public Parameter weight() { return weight; }
    /** Step sizes s [out, numGroups]. */
    public Parameter scale() { return scale; }
    /** Zero points z [out, numGroups] (real-valued while training, rounded in use). */
    public Parameter zero() { return zero; }
    /** The frozen bias, or null. */
    public Parameter bias() { return bias; }
}
