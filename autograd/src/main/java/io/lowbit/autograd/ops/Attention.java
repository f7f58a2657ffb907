package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * Fused scaled dot-product attention (Vaswani et al. 2017, eq. 1) with grouped-query heads
 * (Ainslie et al. 2023), a causal mask and an optional sliding window (Mistral).
 *
 * <p>Shapes: q [B, Tq, Hq, d], k and v [B, Tk, Hkv, d] with Hq a multiple of Hkv; query head h reads
 * key/value head h / (Hq/Hkv). Output [B, Tq, Hq, d]. With the causal mask, query i sits at absolute
 * position i + (Tk − Tq) (the last Tq positions, as in a KV-cached step) and sees keys j ≤ that position;
 * a window W further restricts to j &gt; position − W.
 *
 * <p>Like FlashAttention the T×T probability matrix is never stored: forward keeps the per-row
 * log-sum-exp L, and backward recomputes p_ij = exp(s_ij − L_i), with
 * dV_j = Σ_i p_ij·dO_i, dS_ij = p_ij·(dO_i·v_j − D_i) where D_i = dO_i·O_i,
 * dQ_i = scale·Σ_j dS_ij·k_j and dK_j = scale·Σ_i dS_ij·q_i.
 * Backward runs one task per (batch, kv head), which owns its dK/dV rows: no locks, fixed order. The F32 kernels
 * ({@link AttentionF32}) compute these as small tiled matrix products; F64 runs the plain loops as the reference.
 */
final class Attention extends Function {
    private final boolean causal;
    private final int window;
    private final double scale;
    private int bsz, tq, tk, hq, hkv, d;
    private AttentionF32 f32; // the F32 kernels and the mask geometry of the current shapes

    Attention(boolean causal, int window, double scale) {
        if (window < 0) throw new IllegalArgumentException("attention window must be >= 0 (0 = none), got " + window);
        if (window > 0 && !causal) throw new IllegalArgumentException("a sliding window needs the causal mask");
        this.causal = causal;
        this.window = window;
        this.scale = scale;
    }

    /** First key index query i may see. */
    private int lo(int i) {
        return f32.lo(i);
    }

    /** Last key index query i may see. */
    private int hi(int i) {
        return f32.hi(i);
    }

    @Override
    protected Tensor forward(Tensor... in) {
        checkShapes(in[0], in[1], in[2]);
        Tensor q = rowsDense(in[0]), k = rowsDense(in[1]), v = rowsDense(in[2]);
        Tensor out = Tensor.empty(q.dtype(), q.shape());
        Tensor lse = Tensor.empty(q.dtype(), bsz, hq, tq);
        if (q.dtype() == DType.F32) f32.forward(q, k, v, out, lse);
        else forwardF64(q, k, v, out, lse);
        saveForBackward(q, k, v, out, lse);
        return out;
    }

    private void checkShapes(Tensor q, Tensor k, Tensor v) {
        String shapes = "q " + Arrays.toString(q.shape()) + ", k " + Arrays.toString(k.shape()) + ", v " + Arrays.toString(v.shape());
        if (q.dim() != 4 || k.dim() != 4 || !Arrays.equals(k.shape(), v.shape()))
            throw new IllegalArgumentException("attention expects q [B, Tq, Hq, d] and k, v [B, Tk, Hkv, d]; got " + shapes);
        bsz = q.size(0); tq = q.size(1); hq = q.size(2); d = q.size(3);
        tk = k.size(1); hkv = k.size(2);
        if (k.size(0) != bsz || k.size(3) != d || hkv == 0 || hq % hkv != 0)
            throw new IllegalArgumentException("attention: batch/head size mismatch or Hq not a multiple of Hkv; " + shapes);
        if (causal && tq > tk) throw new IllegalArgumentException("causal attention needs Tq <= Tk; " + shapes);
        if (q.dtype() != k.dtype() || q.dtype() != v.dtype() || (q.dtype() != DType.F32 && q.dtype() != DType.F64))
            throw new IllegalArgumentException("attention computes in F32 or F64 with equal dtypes; got " + q.dtype() + ", " + k.dtype() + ", " + v.dtype());
        f32 = new AttentionF32(causal, window, scale, bsz, tq, tk, hq, hkv, d);
    }

    private long qRow(int b, int i, int h) { return (((long) b * tq + i) * hq + h) * d; }
    private long kRow(int b, int j, int h) { return (((long) b * tk + j) * hkv + h) * d; }

    /**
     * t itself when each head row of d values is contiguous (any batch/time/head strides: a narrowed
     * KV cache is read in place), else a contiguous copy.
     */
    private static Tensor rowsDense(Tensor t) {
        return t.stride(-1) == 1 || t.size(-1) == 1 ? t : t.contiguous();
    }

    @Override
    protected Tensor[] backward(Tensor g0) {
        Tensor q = saved(0), k = saved(1), v = saved(2), out = saved(3), lse = saved(4);
        Tensor g = g0.contiguous();
        Tensor dq = Tensor.zeros(q.dtype(), q.shape()), dk = Tensor.zeros(k.dtype(), k.shape()), dv = Tensor.zeros(v.dtype(), v.shape());
        if (q.dtype() == DType.F32) f32.backward(q, k, v, out, lse, g, dq, dk, dv);
        else backwardF64(q, k, v, out, lse, g, dq, dk, dv);
        if (g != g0) g.close();
        Tensor[] r = {dq, dk, dv};
        for (int i = 0; i < 3; i++) if (!needsInputGrad(i)) { r[i].close(); r[i] = null; }
        return r;
    }

    // ------------------------------------------------------------------ F64 reference

    private void forwardF64(Tensor qt, Tensor kt, Tensor vt, Tensor ot, Tensor lt) {
        double[] q = qt.toDoubleArray(), k = kt.toDoubleArray(), v = vt.toDoubleArray(), o = new double[q.length];
        int group = hq / hkv;
        for (int b = 0; b < bsz; b++)
            for (int h = 0; h < hq; h++)
                for (int i = 0; i < tq; i++) {
                    int qo = (int) qRow(b, i, h), lo = lo(i), hi = hi(i);
                    double[] s = new double[hi - lo + 1];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = lo; j <= hi; j++) {
                        int ko = (int) kRow(b, j, h / group);
                        double dot = 0;
                        for (int c = 0; c < d; c++) dot += q[qo + c] * k[ko + c];
                        s[j - lo] = scale * dot;
                        m = Math.max(m, s[j - lo]);
                    }
                    double l = 0;
                    for (int j = lo; j <= hi; j++) {
                        double p = Math.exp(s[j - lo] - m);
                        l += p;
                        int vo = (int) kRow(b, j, h / group);
                        for (int c = 0; c < d; c++) o[qo + c] += p * v[vo + c];
                    }
                    for (int c = 0; c < d; c++) o[qo + c] /= l;
                    lt.setDouble(((long) b * hq + h) * tq + i, m + Math.log(l));
                }
        for (int i = 0; i < o.length; i++) ot.setDouble(i, o[i]);
    }

    private void backwardF64(Tensor qt, Tensor kt, Tensor vt, Tensor ot, Tensor lt, Tensor gt, Tensor dqt, Tensor dkt, Tensor dvt) {
        double[] q = qt.toDoubleArray(), k = kt.toDoubleArray(), v = vt.toDoubleArray(), o = ot.toDoubleArray(),
                lse = lt.toDoubleArray(), g = gt.toDoubleArray();
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        int group = hq / hkv;
        for (int b = 0; b < bsz; b++)
            for (int h = 0; h < hq; h++)
                for (int i = 0; i < tq; i++) {
                    int qo = (int) qRow(b, i, h);
                    double delta = 0;
                    for (int c = 0; c < d; c++) delta += g[qo + c] * o[qo + c];
                    double li = lse[(b * hq + h) * tq + i];
                    for (int j = lo(i); j <= hi(i); j++) {
                        int ko = (int) kRow(b, j, h / group);
                        double s = 0, dp = 0;
                        for (int c = 0; c < d; c++) { s += q[qo + c] * k[ko + c]; dp += g[qo + c] * v[ko + c]; }
                        double p = Math.exp(scale * s - li);
                        double ds = p * (dp - delta);
                        for (int c = 0; c < d; c++) {
                            dv[ko + c] += p * g[qo + c];
                            dq[qo + c] += scale * ds * k[ko + c];
                            dk[ko + c] += scale * ds * q[qo + c];
                        }
                    }
                }
        for (int i = 0; i < dq.length; i++) dqt.setDouble(i, dq[i]);
        for (int i = 0; i < dk.length; i++) { dkt.setDouble(i, dk[i]); dvt.setDouble(i, dv[i]); }
    }
}
