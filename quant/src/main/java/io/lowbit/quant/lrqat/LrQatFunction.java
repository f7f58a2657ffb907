package io.lowbit.quant.lrqat;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.util.Arrays;

/**
 * The LR-QAT linear y = x·Ŵᵀ with (spec "Forward")
 * <pre>
 *   Ŵ = s · clamp( round_STE( Φ0 + (α/r)·A·B ), −2^(b−1), 2^(b−1)−1 ),   Φ0 = φ(W0 / s0)
 * </pre>
 * as one recomputing op (spec "Checkpointing"): forward saves only its inputs x, A, B, s and drops the
 * dense Ŵ right after the matmul; backward rebuilds R = round(Φ0 + (α/r)AB) and uses it for
 * <pre>
 *   ∂L/∂x = G·Ŵ,   ∂L/∂Ŵ = Gᵀ·x,
 *   ∂L/∂s[r,g] = Σ_{c in g} ∂L/∂Ŵ[r,c] · clamp(R[r,c])             (∂Ŵ/∂s = clamped integer)
 *   M = ∂L/∂Ŵ ⊙ s ⊙ 1[q_min ≤ R ≤ q_max]                          (round_STE: identity; clamp: 0 outside)
 *   ∂L/∂A = (α/r)·M·Bᵀ,   ∂L/∂B = (α/r)·Aᵀ·M
 * </pre>
 * Inputs: x [..., in], A [out, r], B [r, in], s [out, numGroups] (all of one floating dtype).
 * Φ0 is a frozen field, not an input. A fresh instance per call.
 */
public final class LrQatFunction extends Function {
    private final Phi0 phi0;
    private final double alphaOverR;
    private final int groupCols;
    private final boolean round;

    /** The op over the frozen {@code phi0} with low-rank scaling α/r and scale groups of {@code groupCols} columns. */
    public LrQatFunction(Phi0 phi0, double alphaOverR, int groupCols) {
        this(phi0, alphaOverR, groupCols, true);
    }

    /**
     * With {@code round == false} rounding is replaced by the identity: the smooth surrogate whose exact
     * derivative is the straight-through gradient. Tests use it to check the backward by finite differences.
     */
    LrQatFunction(Phi0 phi0, double alphaOverR, int groupCols, boolean round) {
        this.phi0 = phi0;
        this.alphaOverR = alphaOverR;
        this.groupCols = groupCols;
        this.round = round;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0], a = in[1], b = in[2], s = in[3];
        int out = phi0.rows(), cols = phi0.cols(), ng = (cols + groupCols - 1) / groupCols;
        if (a.dim() != 2 || b.dim() != 2 || a.size(0) != out || b.size(1) != cols || a.size(1) != b.size(0))
            throw new IllegalArgumentException("LR-QAT factors A " + Arrays.toString(a.shape()) + " and B " + Arrays.toString(b.shape())
                    + " do not fit weight [" + out + ", " + cols + "] (need A [out, r], B [r, in])");
        if (s.dim() != 2 || s.size(0) != out || s.size(1) != ng)
            throw new IllegalArgumentException("LR-QAT scale " + Arrays.toString(s.shape()) + ", expected [" + out + ", " + ng + "]");
        if (x.dim() < 1 || x.size(-1) != cols)
            throw new IllegalArgumentException("LR-QAT input " + Arrays.toString(x.shape()) + " does not end in in_features " + cols);
        saveForBackward(x, a, b, s);                              // inputs only: never the dense Ŵ
        try (Tensor w = fakeQuantWeight(a, b, s)) {
            return x.matmul(w.t());
        }
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0), a = saved(1), b = saved(2), s = saved(3);
        int out = phi0.rows(), cols = phi0.cols();
        Tensor[] grads = new Tensor[4];
        try (MemoryScope sc = MemoryScope.open()) {
            Tensor r = roundedGrid(a, b);                         // R, recomputed
            Tensor g2 = g.reshape(-1, out);
            if (needsInputGrad(0)) {
                Tensor w = scaleClamped(r.copy(), s);
                grads[0] = sc.keep(g2.matmul(w)).reshape(x.shape());
                w.close();
            }
            if (needsInputGrad(1) || needsInputGrad(2) || needsInputGrad(3)) {
                Tensor gw = g2.t().matmul(x.reshape(-1, cols)); // ∂L/∂Ŵ
                Tensor ds = Tensor.zeros(s.dtype(), s.shape());
                steMask(r, s, gw, ds);                          // gw ← M·(α/r), ds filled
                if (needsInputGrad(1)) grads[1] = sc.keep(gw.matmul(b.t()));
                if (needsInputGrad(2)) grads[2] = sc.keep(a.t().matmul(gw));
                if (needsInputGrad(3)) grads[3] = sc.keep(ds);
            }
        }
        return grads;
    }

    /** The dense Ŵ [out, in] in A's dtype (a new tensor the caller closes). */
    public Tensor fakeQuantWeight(Tensor a, Tensor b, Tensor s) {
        return scaleClamped(roundedGrid(a, b), s);
    }

    /** R = round(Φ0 + (α/r)·A·B), unclamped, as a new [out, in] tensor (so clamp(R) and the mask both follow from it). */
    Tensor roundedGrid(Tensor a, Tensor b) {
        Tensor ab = a.matmul(b);
        int cols = phi0.cols();
        long base = ab.offset();
        Parallel.range(phi0.rows(), Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++)
                for (int c = 0; c < cols; c++) {
                    long e = base + (long) r * cols + c;
                    double p = phi0.get(r, c) + alphaOverR * ab.loadAt(e);
                    ab.storeAt(e, round ? Math.rint(p) : p);
                }
        });
        return ab;
    }

    /** In place: R ← s·clamp(R, q_min, q_max); returns R. */
    private Tensor scaleClamped(Tensor r, Tensor s) {
        int cols = phi0.cols(), ng = s.size(1);
        double qmin = -(1 << (phi0.bits() - 1)), qmax = (1 << (phi0.bits() - 1)) - 1;
        double[] sv = s.toDoubleArray();
        long base = r.offset();
        Parallel.range(phi0.rows(), Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int row = (int) lo; row < hi; row++)
                for (int c = 0; c < cols; c++) {
                    long e = base + (long) row * cols + c;
                    double sc = sv[row * ng + c / groupCols];
                    r.storeAt(e, sc * Math.max(qmin, Math.min(qmax, r.loadAt(e))) + 0.0); // + 0.0: no −0.0, as the integer merge
                }
        });
        return r;
    }

    /** ds[r,g] = Σ gw·clamp(R); then gw ← gw·s·(α/r) inside the grid, 0 where R was clipped. */
    private void steMask(Tensor r, Tensor s, Tensor gw, Tensor ds) {
        int cols = phi0.cols(), ng = s.size(1);
        double qmin = -(1 << (phi0.bits() - 1)), qmax = (1 << (phi0.bits() - 1)) - 1;
        double[] sv = s.toDoubleArray(), dsv = new double[sv.length];
        Parallel.range(phi0.rows(), Math.max(1, 8192 / cols), (lo, hi) -> {
            for (int row = (int) lo; row < hi; row++)
                for (int grp = 0; grp < ng; grp++) {
                    double sc = sv[row * ng + grp], acc = 0;
                    for (int c = grp * groupCols, end = Math.min(cols, c + groupCols); c < end; c++) {
                        long i = (long) row * cols + c;
                        double rv = r.loadAt(r.offset() + i), gv = gw.loadAt(gw.offset() + i);
                        acc += gv * Math.max(qmin, Math.min(qmax, rv));
                        gw.storeAt(gw.offset() + i, rv >= qmin && rv <= qmax ? gv * sc * alphaOverR : 0);
                    }
                    dsv[row * ng + grp] = acc;
                }
        });
        for (int i = 0; i < dsv.length; i++) ds.setDouble(i, dsv[i]);
    }
}
