package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.util.Arrays;

/**
 * EfficientQAT's asymmetric group fake quantizer (spec "Quantizer"):
 * <pre>
 *   Ŵ = s · ( clamp( round_STE(W/s) + round_STE(z), 0, 2^b − 1 ) − round_STE(z) )
 * </pre>
 * with one (s, z) per row and group of G consecutive input columns. Gradients (spec, per element):
 * <pre>
 *   in range:  ∂Ŵ/∂W = 1,  ∂Ŵ/∂s = round(W/s) − W/s,  ∂Ŵ/∂z = 0
 *   clipped:   ∂Ŵ/∂W = 0,  ∂Ŵ/∂s = q_bound − round(z), ∂Ŵ/∂z = −s
 * </pre>
 * summed over each group for s and z. Inputs: W [out, in], s [out, numGroups], z [out, numGroups].
 * Arithmetic follows the tensors' dtype (W/s and the final product are rounded to F32 for F32 tensors), so
 * the F32 result is bit-identical to {@link io.lowbit.quant.uniform.AffineQuantizedTensor}'s dequantization
 * of the frozen codes ({@link #code}).
 */
public final class AffineFakeQuant extends Function {
    private final int groupCols, maxq;

    /** A quantizer with {@code bits}-bit codes and groups of {@code groupCols} input columns. */
    public AffineFakeQuant(int bits, int groupCols) {
        if (bits < 1 || bits > 8) throw new IllegalArgumentException("bits must be in [1, 8], got " + bits);
        if (groupCols < 1) throw new IllegalArgumentException("groupCols must be >= 1, got " + groupCols);
        this.groupCols = groupCols;
        this.maxq = (1 << bits) - 1;
    }

    /** The code clamp(round(W/s) + zr, 0, maxq), with W/s rounded to float first when {@code f32}. */
    public static int code(double w, double s, int zr, int maxq, boolean f32) {
        return (int) Math.max(0, Math.min(maxq, Math.rint(ratio(w, s, f32)) + zr));
    }

    /** W/s as the tensors' arithmetic computes it. */
    static double ratio(double w, double s, boolean f32) {
        return f32 ? (float) (w / s) : w / s;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor w = in[0], s = in[1], z = in[2];
        if (w.dim() != 2) throw new IllegalArgumentException("fake quant needs a 2-D weight [out, in], got " + Arrays.toString(w.shape()));
        int rows = w.size(0), cols = w.size(1), ng = (cols + groupCols - 1) / groupCols;
        if (!Arrays.equals(s.shape(), new int[] {rows, ng}) || !Arrays.equals(z.shape(), new int[] {rows, ng}))
            throw new IllegalArgumentException("fake quant: weight " + Arrays.toString(w.shape()) + " with group " + groupCols
                    + " needs s and z [" + rows + ", " + ng + "], got " + Arrays.toString(s.shape()) + " and " + Arrays.toString(z.shape()));
        saveForBackward(w, s, z);
        boolean f32 = w.dtype() == io.lowbit.tensor.DType.F32;
        Tensor out = Tensor.empty(w.dtype(), rows, cols);
        Parallel.range(rows, Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++)
                for (int c = 0; c < cols; c++) {
                    double sc = s.get(r, c / groupCols);
                    int zr = (int) Math.rint(z.get(r, c / groupCols));
                    out.storeAt((long) r * cols + c, sc * (code(w.get(r, c), sc, zr, maxq, f32) - zr) + 0.0);
                }
        });
        return out;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor w = saved(0), s = saved(1), z = saved(2);
        int rows = w.size(0), cols = w.size(1), ng = s.size(1);
        boolean f32 = w.dtype() == io.lowbit.tensor.DType.F32;
        Tensor dw = needsInputGrad(0) ? Tensor.empty(w.dtype(), rows, cols) : null;
        Tensor ds = needsInputGrad(1) ? Tensor.empty(s.dtype(), rows, ng) : null;
        Tensor dz = needsInputGrad(2) ? Tensor.empty(z.dtype(), rows, ng) : null;
        Parallel.range(rows, Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++)
                for (int grp = 0; grp < ng; grp++) {
                    double sc = s.get(r, grp), zv = Math.rint(z.get(r, grp)), accS = 0, accZ = 0;
                    for (int c = grp * groupCols, end = Math.min(cols, c + groupCols); c < end; c++) {
                        double gv = g.get(r, c), v = ratio(w.get(r, c), sc, f32), u = Math.rint(v) + zv;
                        boolean inRange = u >= 0 && u <= maxq;
                        if (dw != null) dw.storeAt((long) r * cols + c, inRange ? gv : 0);
                        if (inRange) {
                            accS += gv * (Math.rint(v) - v);                   // ∂Ŵ/∂s = round(W/s) − W/s
                        } else {
                            accS += gv * ((u < 0 ? 0 : maxq) - zv);            // ∂Ŵ/∂s = q_bound − z
                            accZ -= gv * sc;                                   // ∂Ŵ/∂z = −s
                        }
                    }
                    if (ds != null) ds.storeAt((long) r * ng + grp, accS);
                    if (dz != null) dz.storeAt((long) r * ng + grp, accZ);
                }
        });
        return new Tensor[] {dw, ds, dz};
    }
}
