package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Fused RMSNorm over the last dimension (Zhang &amp; Sennrich 2019): with r = 1/√(mean(x²) + ε),
 * y = x·r·w. Backward, with x̂ = x·r and h = g·w:
 * ∂/∂x = r·(h − x̂·mean(h·x̂)) = r·h − x·r³·mean(h·x), and ∂/∂w = Σ_rows g·x̂.
 * Forward saves x, w and the per-row r. F32 runs on the Vector API in parallel rows; F64 is the plain
 * reference loop.
 */
final class RmsNorm extends Function {
    private final double eps;

    RmsNorm(double eps) {
        this.eps = eps;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0].contiguous(), w = in[1].contiguous();
        int d = in[0].size(-1);
        if (in[1].dim() != 1 || in[1].size(0) != d)
            throw new IllegalArgumentException("rmsNorm: weight " + Arrays.toString(in[1].shape()) + " for input " + Arrays.toString(in[0].shape()));
        if (x.dtype() != w.dtype()) throw new IllegalArgumentException("rmsNorm: input " + x.dtype() + " and weight " + w.dtype());
        int rows = (int) (x.numel() / Math.max(d, 1));
        Tensor y = Tensor.empty(x.dtype(), x.shape());
        Tensor rstd = Tensor.empty(x.dtype(), rows);
        if (x.dtype() == DType.F32) forwardF32(x.segment(), w.segment(), y.segment(), rstd.segment(), rows, d);
        else if (x.dtype() == DType.F64) forwardF64(x, w, y, rstd, rows, d);
        else throw new IllegalArgumentException("rmsNorm computes in F32 or F64, got " + x.dtype());
        saveForBackward(x, w, rstd); // x, w: the inputs (or contiguous copies this node then owns)
        return y;
    }

    @Override
    protected Tensor[] backward(Tensor g0) {
        Tensor x = saved(0), w = saved(1), rstd = saved(2);
        Tensor g = g0.contiguous();
        int d = x.size(-1);
        int rows = (int) (x.numel() / Math.max(d, 1));
        Tensor dx = needsInputGrad(0) ? Tensor.empty(x.dtype(), x.shape()) : null;
        Tensor dw = needsInputGrad(1) ? Tensor.empty(x.dtype(), d) : null;
        if (x.dtype() == DType.F32) backwardF32(g, x, w, rstd, dx, dw, rows, d);
        else backwardF64(g, x, w, rstd, dx, dw, rows, d);
        if (g != g0) g.close();
        return new Tensor[] {dx, dw};
    }

    // ------------------------------------------------------------------ F64 reference

    private void forwardF64(Tensor x, Tensor w, Tensor y, Tensor rstd, int rows, int d) {
        double[] xs = x.toDoubleArray(), ws = w.toDoubleArray();
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += xs[r * d + j] * xs[r * d + j];
            double inv = 1 / Math.sqrt(ss / d + eps);
            rstd.setDouble(r, inv);
            for (int j = 0; j < d; j++) y.setDouble((long) r * d + j, xs[r * d + j] * inv * ws[j]);
        }
    }

    private static void backwardF64(Tensor g, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw, int rows, int d) {
        double[] gs = g.toDoubleArray(), xs = x.toDoubleArray(), ws = w.toDoubleArray(), rs = rstd.toDoubleArray();
        double[] dws = new double[d];
        for (int r = 0; r < rows; r++) {
            double inv = rs[r], hx = 0;
            for (int j = 0; j < d; j++) hx += gs[r * d + j] * ws[j] * xs[r * d + j];
            double c = inv * inv * inv * hx / d;
            for (int j = 0; j < d; j++) {
                int i = r * d + j;
                if (dx != null) dx.setDouble(i, inv * gs[i] * ws[j] - xs[i] * c);
                dws[j] += gs[i] * xs[i] * inv;
            }
        }
        if (dw != null) for (int j = 0; j < d; j++) dw.setDouble(j, dws[j]);
    }

    // ------------------------------------------------------------------ F32 Vector API

    private void forwardF32(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment rstd, int rows, int d) {
        var S = Simd.S;
        Parallel.range(rows, Math.max(1, 8192 / Math.max(d, 1)), (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                long b = r * d;
                float ss = Simd.dot(x, b, x, b, d);
                float inv = (float) (1 / Math.sqrt((double) ss / d + eps));
                Simd.set(rstd, r, inv);
                int j = 0;
                for (int bound = S.loopBound(d); j < bound; j += S.length())
                    Simd.store(Simd.load(x, b + j).mul(inv).mul(Simd.load(w, j)), y, b + j);
                for (; j < d; j++) Simd.set(y, b + j, Simd.get(x, b + j) * inv * Simd.get(w, j));
            }
        });
    }

    private static void backwardF32(Tensor gt, Tensor xt, Tensor wt, Tensor rt, Tensor dxt, Tensor dwt, int rows, int d) {
        var S = Simd.S;
        MemorySegment g = gt.segment(), x = xt.segment(), w = wt.segment(), rs = rt.segment();
        if (dxt != null) {
            MemorySegment dx = dxt.segment();
            Parallel.range(rows, Math.max(1, 8192 / Math.max(d, 1)), (lo, hi) -> {
                for (long r = lo; r < hi; r++) dxRow(g, w, x, dx, r * d, d, Simd.get(rs, r));
            });
        }
        if (dwt != null) { // columns in parallel: every dw[j] sums its rows in a fixed order (deterministic)
            MemorySegment dw = dwt.segment();
            Parallel.range(d, 64, (lo, hi) -> {
                int n = (int) (hi - lo);
                float[] acc = new float[n];
                for (long r = 0; r < rows; r++) {
                    float inv = Simd.get(rs, r);
                    FloatVector vinv = FloatVector.broadcast(S, inv);
                    long b = r * d + lo;
                    int j = 0;
                    for (int bound = S.loopBound(n); j < bound; j += S.length())
                        Simd.load(g, b + j).mul(Simd.load(x, b + j)).fma(vinv, FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
                    for (; j < n; j++) acc[j] += Simd.get(g, b + j) * Simd.get(x, b + j) * inv;
                }
                for (int j = 0; j < n; j++) Simd.set(dw, lo + j, acc[j]);
            });
        }
    }

    /**
     * One row of ∂x = r·(g⊙w) − x·r³·⟨g⊙w, x⟩/d (r = 1/rms), in a method of its own that calls the Vector
     * API directly: inside the parallel lambda C2 ran out of inlining budget and left the lane sum as a call
     * on a boxed vector, which runs the API's scalar fallback.
     */
    private static void dxRow(MemorySegment g, MemorySegment w, MemorySegment x, MemorySegment dx, long b, int d, float inv) {
        var S = Simd.S;
        FloatVector acc = FloatVector.zero(S);
        int j = 0, bound = S.loopBound(d);
        for (; j < bound; j += S.length())
            acc = FloatVector.fromMemorySegment(S, g, 4 * (b + j), Simd.LE).mul(FloatVector.fromMemorySegment(S, w, 4L * j, Simd.LE))
                    .fma(FloatVector.fromMemorySegment(S, x, 4 * (b + j), Simd.LE), acc);
        float hx = Simd.sum(acc);
        for (; j < d; j++) hx += Simd.get(g, b + j) * Simd.get(w, j) * Simd.get(x, b + j);
        float c = inv * inv * inv * hx / d;
        for (j = 0; j < bound; j += S.length())
            FloatVector.fromMemorySegment(S, g, 4 * (b + j), Simd.LE).mul(FloatVector.fromMemorySegment(S, w, 4L * j, Simd.LE)).mul(inv)
                    .sub(FloatVector.fromMemorySegment(S, x, 4 * (b + j), Simd.LE).mul(c)).intoMemorySegment(dx, 4 * (b + j), Simd.LE);
        for (; j < d; j++) Simd.set(dx, b + j, inv * Simd.get(g, b + j) * Simd.get(w, j) - Simd.get(x, b + j) * c);
    }
}
