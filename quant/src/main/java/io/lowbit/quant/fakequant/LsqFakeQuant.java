package io.lowbit.quant.fakequant;

import io.lowbit.autograd.Function;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.quant.uniform.Granularity;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * LSQ fake quantization (Esser et al. 2020, eqs. 1–3): v̂ = ⌊clip(v/s, Q_N, Q_P)⌉ · s with a learned step s.
 * Gradients (straight-through rounding):
 * <pre>
 *   ∂v̂/∂v = 1 if Q_N ≤ v/s ≤ Q_P, else 0
 *   ∂v̂/∂s = −v/s + ⌊v/s⌉   if Q_N &lt; v/s &lt; Q_P
 *          = Q_N            if v/s ≤ Q_N
 *          = Q_P            if v/s ≥ Q_P
 * </pre>
 * and the step gradient is multiplied by g = 1/√(N·Q_P) (§2.2; N = number of elements of v). Signed
 * grids (spec symmetric) use Q_N = −2^(b−1), Q_P = 2^(b−1) − 1; unsigned grids (spec asymmetric; LSQ has no
 * zero point) use Q_N = 0, Q_P = 2^b − 1.
 *
 * <p>Steps are shared per tensor (s has one element), per output channel (v [rows, cols], s [rows]) or per
 * row and group of input columns (s [rows, ceil(cols/group)]). Inputs are F32 or F64 (v and s of the same
 * dtype); the arithmetic is in double.
 */
public final class LsqFakeQuant extends Function {
    private final AffineSpec spec;
    private final boolean scaleGradient;
    private final int qn, qp;

    /**
     * @param scaleGradient multiply ∂L/∂s by g = 1/√(N·Q_P) (LSQ's gradient scale); false gives the plain
     *                      straight-through derivative, which is what a finite-difference check can see
     */
    public LsqFakeQuant(AffineSpec spec, boolean scaleGradient) {
        this.spec = spec;
        this.scaleGradient = scaleGradient;
        this.qn = qmin(spec);
        this.qp = qmax(spec);
    }

    /** Q_N of the grid. */
    public static int qmin(AffineSpec spec) {
        return spec.symmetric() ? -(1 << (spec.bits() - 1)) : 0;
    }

    /** Q_P of the grid. */
    public static int qmax(AffineSpec spec) {
        return spec.symmetric() ? (1 << (spec.bits() - 1)) - 1 : (1 << spec.bits()) - 1;
    }

    /** The shape of s for a v of {@code shape} under {@code spec}. */
    public static int[] scaleShape(AffineSpec spec, int[] shape) {
        if (spec.granularity() == Granularity.PER_TENSOR) return new int[] {1};
        if (shape.length != 2) throw new IllegalArgumentException("per-channel/per-group LSQ needs a 2-D [rows, cols] input, got " + Arrays.toString(shape));
        return spec.granularity() == Granularity.PER_CHANNEL ? new int[] {shape[0]} : new int[] {shape[0], spec.numGroups(shape[1])};
    }

    /** LSQ's initial step 2·mean|v|/√Q_P, per scale group, as a new tensor of v's dtype and {@link #scaleShape}. */
    public static Tensor initScale(Tensor v, AffineSpec spec) {
        int[] sShape = scaleShape(spec, v.shape());
        double[] x = v.contiguous().toDoubleArray();
        double[] sum = new double[(int) Arrays.stream(sShape).asLongStream().reduce(1, (a, b) -> a * b)];
        long[] cnt = new long[sum.length];
        int cols = v.dim() == 2 ? v.size(1) : 1;
        for (int i = 0; i < x.length; i++) {
            int k = scaleIndex(spec, i, cols, sShape);
            sum[k] += Math.abs(x[i]);
            cnt[k]++;
        }
        for (int k = 0; k < sum.length; k++) sum[k] = Math.max(2 * sum[k] / cnt[k] / Math.sqrt(qmax(spec)), 1e-8);
        Tensor s = Tensor.of(sum, sShape);
        if (v.dtype() == DType.F64) return s;
        Tensor t = s.to(v.dtype());
        s.close();
        return t;
    }

    private static int scaleIndex(AffineSpec spec, int i, int cols, int[] sShape) {
        return switch (spec.granularity()) {
            case PER_TENSOR -> 0;
            case PER_CHANNEL -> i / cols;
            case PER_GROUP -> (i / cols) * sShape[1] + (i % cols) / spec.groupSize();
        };
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor v = in[0], s = in[1];
        if (v.dtype() != s.dtype() || !v.dtype().floating)
            throw new IllegalArgumentException("LSQ needs floating v and s of one dtype, got " + v.dtype() + " and " + s.dtype());
        int[] want = scaleShape(spec, v.shape());
        if (s.numel() != Arrays.stream(want).asLongStream().reduce(1, (a, b) -> a * b))
            throw new IllegalArgumentException("LSQ step of shape " + Arrays.toString(s.shape()) + " does not fit input " + Arrays.toString(v.shape())
                    + " with " + spec.granularity().configName() + " granularity (expected " + Arrays.toString(want) + ")");
        saveForBackward(v, s);
        double[] x = v.contiguous().toDoubleArray(), st = s.contiguous().toDoubleArray();
        checkSteps(st);
        int cols = v.dim() == 2 ? v.size(1) : 1;
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double sc = st[scaleIndex(spec, i, cols, want)];
            double q = Math.rint(Math.min(Math.max(x[i] / sc, qn), qp)); // ⌊clip(v/s, Q_N, Q_P)⌉
            out[i] = q * sc;
        }
        return ofDtype(out, v.dtype(), v.shape());
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor v = saved(0), s = saved(1);
        int[] sShape = scaleShape(spec, v.shape());
        double[] x = v.contiguous().toDoubleArray(), st = s.contiguous().toDoubleArray(), gy = g.contiguous().toDoubleArray();
        int cols = v.dim() == 2 ? v.size(1) : 1;
        double[] dx = new double[x.length], ds = new double[st.length];
        for (int i = 0; i < x.length; i++) {
            int k = scaleIndex(spec, i, cols, sShape);
            double r = x[i] / st[k];
            double dqds;
            if (r <= qn) dqds = qn;
            else if (r >= qp) dqds = qp;
            else {
                dqds = -r + Math.rint(r);
                dx[i] = gy[i]; // straight-through inside the range
            }
            ds[k] += gy[i] * dqds;
        }
        if (scaleGradient) {
            double gScale = 1 / Math.sqrt((double) x.length * qp); // g = 1/√(N·Q_P)
            for (int k = 0; k < ds.length; k++) ds[k] *= gScale;
        }
        return new Tensor[] {needsInputGrad(0) ? ofDtype(dx, v.dtype(), v.shape()) : null,
                needsInputGrad(1) ? ofDtype(ds, s.dtype(), s.shape()) : null};
    }

    private static void checkSteps(double[] st) {
        for (int k = 0; k < st.length; k++)
            if (!(st[k] > 0) || Double.isInfinite(st[k])) throw new IllegalArgumentException("LSQ step s[" + k + "] = " + st[k] + " must be finite and > 0");
    }

    private static Tensor ofDtype(double[] d, DType dtype, int[] shape) {
        Tensor t = Tensor.of(d, shape);
        if (dtype == DType.F64) return t;
        Tensor c = t.to(dtype);
        t.close();
        return c;
    }
}
