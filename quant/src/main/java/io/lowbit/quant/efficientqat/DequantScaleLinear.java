package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Function;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.util.Arrays;

/**
 * E2E-QP's linear over frozen integers (spec "Phase 2"): y = x·Wᵀ with W = s·(q − z), where the codes q
 * and zero points z come from a frozen {@link AffineQuantizedTensor} and only the step sizes s are an
 * input. W is dequantized on the fly, {@link #TILE_ELEMENTS} weights at a time, in forward and again in
 * backward; nothing dense is saved. Gradients:
 * <pre>
 *   ∂L/∂x = G·W,   ∂L/∂s[r, g] = Σ_{c in g} (Gᵀ·x)[r, c] · (q[r, c] − z[r, g])     (∂W/∂s = q − z)
 * </pre>
 * summed over rows too for a per-tensor scale. Inputs: x [..., in], s [scaleRows, numGroups].
 */
public final class DequantScaleLinear extends Function {
    /** Weights dequantized per tile (rows × in ≈ this many). */
    public static final int TILE_ELEMENTS = 1 << 16;

    private final AffineQuantizedTensor q;
    private final int tileElements;
    private final int[] groupOf;

    /** The op over frozen integers {@code q} (borrowed, not closed). */
    public DequantScaleLinear(AffineQuantizedTensor q) {
        this(q, TILE_ELEMENTS);
    }

    /** With another tile size (tests use tiny tiles to cover the tiling). */
    DequantScaleLinear(AffineQuantizedTensor q, int tileElements) {
        if (tileElements < 1) throw new IllegalArgumentException("tileElements must be >= 1, got " + tileElements);
        this.q = q;
        this.tileElements = tileElements;
        this.groupOf = q.groupIndex();
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0], s = in[1];
        int rows = q.rows(), cols = q.cols();
        int[] sShape = {q.spec().scaleRows(rows), q.numGroups()};
        if (!Arrays.equals(s.shape(), sShape))
            throw new IllegalArgumentException("step sizes " + Arrays.toString(s.shape()) + " for quantized weight [" + rows + ", " + cols
                    + "] must be " + Arrays.toString(sShape));
        if (x.dim() < 2 || x.size(-1) != cols)
            throw new IllegalArgumentException("input " + Arrays.toString(x.shape()) + " does not end in in_features " + cols);
        saveForBackward(x, s);
        int[] shape = x.shape();
        shape[shape.length - 1] = rows;
        Tensor y = Tensor.empty(x.dtype(), shape);
        double[] sv = s.toDoubleArray();
        Tensor x2 = x.reshape(-1, cols), y2 = y.reshape(-1, rows);
        try {
            for (int r0 = 0, step = tileRows(); r0 < rows; r0 += step) {
                int r1 = Math.min(rows, r0 + step);
                try (Tensor wt = tile(r0, r1, sv, x); Tensor yt = x2.matmul(wt.t())) {
                    y2.narrow(1, r0, r1 - r0).copyFrom(yt);
                }
            }
        } finally {
            if (x2.storage() != x.storage()) x2.close();
        }
        return y;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0), s = saved(1);
        int rows = q.rows(), cols = q.cols(), ng = q.numGroups();
        Tensor x2 = x.reshape(-1, cols), g2 = g.reshape(-1, rows);
        Tensor dx = needsInputGrad(0) ? Tensor.zeros(x.dtype(), x2.size(0), cols) : null;
        double[] ds = needsInputGrad(1) ? new double[(int) s.numel()] : null, sv = s.toDoubleArray();
        try {
            for (int r0 = 0, step = tileRows(); r0 < rows; r0 += step) {
                int r1 = Math.min(rows, r0 + step);
                Tensor gt = g2.narrow(1, r0, r1 - r0);
                if (dx != null)
                    try (Tensor wt = tile(r0, r1, sv, x); Tensor p = gt.matmul(wt)) {
                        dx.addInPlace(p);
                    }
                if (ds != null)
                    try (Tensor gw = gt.t().matmul(x2)) {                    // ∂L/∂W for rows [r0, r1), contiguous
                        for (int r = r0; r < r1; r++) {
                            int sr = q.scaleRow(r);
                            int[] z = zeros(r);
                            long base = gw.offset() + (long) (r - r0) * cols;
                            for (int c = 0; c < cols; c++) {
                                int grp = groupOf[c];
                                ds[sr * ng + grp] += gw.loadAt(base + c) * (q.code(r, c) - z[grp]);
                            }
                        }
                    }
            }
        } finally {
            if (x2.storage() != x.storage()) x2.close();
            if (g2.storage() != g.storage()) g2.close();
        }
        Tensor dsT = null;
        if (ds != null) {
            dsT = Tensor.empty(s.dtype(), s.shape());
            for (int i = 0; i < ds.length; i++) dsT.setDouble(i, ds[i]);
        }
        return new Tensor[] {dx == null ? null : dx.reshape(x.shape()), dsT};
    }

    private int tileRows() {
        return Math.max(1, Math.min(q.rows(), tileElements / q.cols()));
    }

    /** W[r0:r1, :] = s·(q − z) in {@code like}'s dtype (a new tensor); {@code s} row-major [scaleRows, numGroups]. */
    private Tensor tile(int r0, int r1, double[] s, Tensor like) {
        int cols = q.cols(), ng = q.numGroups();
        Tensor t = Tensor.empty(like.dtype(), r1 - r0, cols);
        Parallel.range(r1 - r0, Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int r = r0 + (int) lo; r < r0 + hi; r++) {
                int sr = q.scaleRow(r);
                int[] z = zeros(r);
                for (int c = 0; c < cols; c++) {
                    int grp = groupOf[c];
                    t.storeAt((long) (r - r0) * cols + c, s[sr * ng + grp] * (q.code(r, c) - z[grp]) + 0.0);
                }
            }
        });
        return t;
    }

    /** Zero point of every group of row {@code r}. */
    private int[] zeros(int r) {
        int[] z = new int[q.numGroups()];
        for (int g = 0; g < z.length; g++) z[g] = q.zero(r, g);
        return z;
    }
}
