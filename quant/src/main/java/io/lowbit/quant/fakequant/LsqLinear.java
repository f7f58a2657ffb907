package io.lowbit.quant.fakequant;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.quant.uniform.Granularity;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The full-QAT baseline layer (specs/baselines.md "Full QAT with LSQ"): y = x·Ŵᵀ (+ b) with every weight
 * fake-quantized by {@link LsqFakeQuant}, ŵ = s·⌊clip(w/s, Q_N, Q_P)⌉ on the signed b-bit grid, and both
 * the weight W [out, in] and the step s (per output channel [out], or per row and group [out, in/G]) trained.
 *
 * <p>The initial step is given by the caller (the full-QAT runs here start from the same L_p range setting as
 * LR-QAT, so both begin at the same round-to-nearest point). {@link #merge()} gives the integer weight
 * round(clip(W/s)) with scale s as a symmetric {@link AffineQuantizedTensor}: the same format as a merged
 * LR-QAT layer.
 */
public final class LsqLinear extends Layer {
    private final AffineSpec spec;
    private final Parameter weight, step, bias;
    /** Input and output features. */
    public final int inFeatures, outFeatures;

    /**
     * A layer training a copy of {@code w} [out, in] (the caller keeps {@code w}) on the symmetric grid of
     * {@code spec} (per channel or per group), starting from the steps {@code s0} (row-major [out·numGroups]);
     * {@code bias} (may be null) is copied and frozen.
     */
    public LsqLinear(Tensor w, Tensor bias, AffineSpec spec, float[] s0) {
        if (w.dim() != 2) throw new IllegalArgumentException("LSQ weight must be [out, in], got " + Arrays.toString(w.shape()));
        if (!spec.symmetric() || spec.granularity() == Granularity.PER_TENSOR)
            throw new IllegalArgumentException("full QAT uses a symmetric per-channel or per-group grid, got " + spec);
        if (bias != null && (bias.dim() != 1 || bias.size(0) != w.size(0)))
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " does not match weight " + Arrays.toString(w.shape()));
        this.spec = spec;
        this.outFeatures = w.size(0);
        this.inFeatures = w.size(1);
        int[] sShape = LsqFakeQuant.scaleShape(spec, w.shape());
        long n = Arrays.stream(sShape).asLongStream().reduce(1, (a, b) -> a * b);
        if (s0.length != n)
            throw new IllegalArgumentException("initial steps: " + s0.length + " values for weight " + Arrays.toString(w.shape()) + " under " + spec
                    + " (expected " + n + ")");
        Tensor s = Tensor.empty(w.dtype(), sShape);
        for (int i = 0; i < s0.length; i++) s.setDouble(i, s0[i]);
        this.weight = registerParameter("weight", new Parameter(w.copy()));
        this.step = registerParameter("scale", new Parameter(s));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.copy(), false));
    }

    /** The full-QAT stand-in for {@code linear} (which is read, not closed). */
    public static LsqLinear from(Linear linear, AffineSpec spec, float[] s0) {
        return new LsqLinear(linear.weight().data(), linear.bias() == null ? null : linear.bias().data(), spec, s0);
    }

    @Override
    public Var forward(Var x) {
        return F.linear(x, FakeQuant.lsq(weight, step, spec), bias); // LSQ eq. 1 with the gradient scale g = 1/√(N·Q_P)
    }

    /**
     * The integer weight clamp(round(W/s), Q_N, Q_P) with scale s as a symmetric b-bit {@link AffineQuantizedTensor}
     * (codes W_int + 2^(b−1), zero 2^(b−1)); the caller closes it.
     */
    public AffineQuantizedTensor merge() {
        int mid = 1 << (spec.bits() - 1), qn = LsqFakeQuant.qmin(spec), qp = LsqFakeQuant.qmax(spec);
        AffineQuantizedTensor q = AffineQuantizedTensor.allocate(outFeatures, inFeatures, spec, false, "lsq");
        try {
            Tensor w = weight.data(), s = step.data();
            int ng = spec.numGroups(inFeatures), gc = spec.groupCols(inFeatures);
            for (int r = 0; r < outFeatures; r++)
                for (int g = 0; g < ng; g++) {
                    double sc = s.getDouble((long) r * ng + g);
                    if (!(sc > 0) || !Double.isFinite(sc))
                        throw new IllegalStateException("LSQ step s[" + r + ", " + g + "] = " + sc + " cannot be stored (must be positive, finite)");
                    q.setGrid(r, g, new AffineGrid((float) sc, mid, spec.maxq()));
                    for (int c = g * gc; c < Math.min(inFeatures, (g + 1) * gc); c++)
                        q.setCode(r, c, (int) Math.rint(Math.min(Math.max(w.get(r, c) / sc, qn), qp)) + mid);
                }
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** The grid. */
    public AffineSpec spec() { return spec; }
    /** The trained weight W [out, in]. */
    public Parameter weight() { return weight; }
    /** The trained step s. */
    public Parameter scale() { return step; }
    /** The frozen bias, or null. */
    public Parameter bias() { return bias; }
}
