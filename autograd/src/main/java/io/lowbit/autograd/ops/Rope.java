package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Fused rotary embedding of x with shape [..., T, H, d] (time, heads, head size), token t at position
 * {@code start + t} (the offset lets a KV-cached decode step rotate its new tokens at their true
 * positions). Each pair (a, b) becomes (a·cos − b·sin, a·sin + b·cos). The map is a rotation, so its
 * backward is the rotation by the opposite angle applied to g; nothing is saved.
 */
final class Rope extends Function {
    private final RopeTable table;
    private final int start;

    Rope(RopeTable table, int start) {
        this.table = table;
        this.start = start;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0];
        if (x.dim() < 3 || x.size(-1) != table.headDim())
            throw new IllegalArgumentException("rope: input " + Arrays.toString(x.shape()) + " is not [..., T, H, " + table.headDim() + "]");
        int t = x.size(-3);
        if (start < 0 || start + t > table.maxSeqLen())
            throw new IllegalArgumentException("rope: positions " + start + ".." + (start + t - 1) + " outside the table's 0.." + (table.maxSeqLen() - 1));
        return rotate(x, 1);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {rotate(g, -1)};
    }

    /** Rotates by +angle (direction 1) or −angle (direction −1) into a new tensor. */
    private Tensor rotate(Tensor x0, int direction) {
        Tensor x = x0.contiguous();
        Tensor y = Tensor.empty(x.dtype(), x.shape());
        int d = table.headDim(), h = x.size(-2), t = x.size(-3);
        long rows = x.numel() / d; // one row per (batch, t, head)
        if (x.dtype() == DType.F32) rotateF32(x.segment(), y.segment(), rows, t, h, d, direction);
        else if (x.dtype() == DType.F64) rotateF64(x, y, rows, t, h, d, direction);
        else throw new IllegalArgumentException("rope computes in F32 or F64, got " + x.dtype());
        if (x != x0) x.close();
        return y;
    }

    private void rotateF64(Tensor xt, Tensor yt, long rows, int t, int h, int d, int direction) {
        double[] x = xt.toDoubleArray(), y = new double[x.length];
        int half = d / 2;
        boolean interleaved = table.layout() == RopeTable.Layout.INTERLEAVED;
        for (long r = 0; r < rows; r++) {
            int pos = start + (int) ((r / h) % t);
            int b = (int) (r * d);
            for (int i = 0; i < half; i++) {
                double c = table.cos[pos * half + i], s = direction * table.sin[pos * half + i];
                int ia = interleaved ? b + 2 * i : b + i, ib = interleaved ? ia + 1 : ia + half;
                y[ia] = x[ia] * c - x[ib] * s;
                y[ib] = x[ia] * s + x[ib] * c;
            }
        }
        for (int i = 0; i < y.length; i++) yt.setDouble(i, y[i]);
    }

    private void rotateF32(MemorySegment x, MemorySegment y, long rows, int t, int h, int d, int direction) {
        int half = d / 2;
        boolean interleaved = table.layout() == RopeTable.Layout.INTERLEAVED;
        float[] cos = table.cosF, sin = table.sinF;
        var S = Simd.S;
        Parallel.range(rows, Math.max(1, 4096 / d), (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                int pos = start + (int) ((r / h) % t);
                int tb = pos * half;
                long b = r * d;
                if (interleaved) {
                    for (int i = 0; i < half; i++) {
                        float c = cos[tb + i], s = direction * sin[tb + i];
                        float a0 = Simd.get(x, b + 2 * i), a1 = Simd.get(x, b + 2 * i + 1);
                        Simd.set(y, b + 2 * i, a0 * c - a1 * s);
                        Simd.set(y, b + 2 * i + 1, a0 * s + a1 * c);
                    }
                } else {
                    int i = 0;
                    for (int bound = S.loopBound(half); i < bound; i += S.length()) {
                        FloatVector c = FloatVector.fromArray(S, cos, tb + i), s = FloatVector.fromArray(S, sin, tb + i).mul(direction);
                        FloatVector a0 = Simd.load(x, b + i), a1 = Simd.load(x, b + half + i);
                        Simd.store(a0.mul(c).sub(a1.mul(s)), y, b + i);
                        Simd.store(a0.mul(s).add(a1.mul(c)), y, b + half + i);
                    }
                    for (; i < half; i++) {
                        float c = cos[tb + i], s = direction * sin[tb + i];
                        float a0 = Simd.get(x, b + i), a1 = Simd.get(x, b + half + i);
                        Simd.set(y, b + i, a0 * c - a1 * s);
                        Simd.set(y, b + half + i, a0 * s + a1 * c);
                    }
                }
            }
        });
    }
}
