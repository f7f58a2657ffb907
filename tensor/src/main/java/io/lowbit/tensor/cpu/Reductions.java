package io.lowbit.tensor.cpu;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.ReduceOp;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Reductions and softmax along one dimension. The reduced dimension is moved last and made contiguous
 * once, then every row is reduced independently (in parallel). F32 sums accumulate in vector lanes and
 * finish in double; F64 runs the scalar loop.
 */
final class Reductions {
    private Reductions() {}

    /** x with {@code dim} moved to the end, contiguous (may be x itself). */
    static Tensor lastDimContiguous(Tensor x, int dim) {
        int r = x.dim();
        if (dim == r - 1 && x.isContiguous() && x.offset() == 0) return x;
        int[] order = new int[r];
        for (int i = 0, j = 0; i < r; i++) if (i != dim) order[j++] = i;
        order[r - 1] = dim;
        return x.permute(order).copy();
    }

    static Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepdim) {
        int r = x.dim();
        if (r == 0) { // reduce a scalar: itself
            Tensor out = Tensor.empty(op == ReduceOp.ARGMAX ? DType.I32 : x.dtype());
            out.setDouble(0, op == ReduceOp.ARGMAX ? 0 : x.item());
            return out;
        }
        dim = Shape.axis(dim, r);
        int[] s = x.shape();
        int len = s[dim];
        if (len == 0 && (op == ReduceOp.MAX || op == ReduceOp.MIN || op == ReduceOp.ARGMAX))
            throw new IllegalArgumentException(op + " over an empty dimension of shape " + java.util.Arrays.toString(s));
        int[] outShape = new int[keepdim ? r : r - 1];
        for (int i = 0, j = 0; i < r; i++) {
            if (i == dim) { if (keepdim) outShape[j++] = 1; }
            else outShape[j++] = s[i];
        }
        if (x.dtype() == DType.F32 && op != ReduceOp.ARGMAX && dim < r - 1 && x.isContiguous() && len > 0) {
            Tensor out = Tensor.empty(DType.F32, outShape);
            reduceColumnsF32(op, x, s, dim, out);
            return out;
        }
        Tensor c = lastDimContiguous(x, dim);
        Tensor out = Tensor.empty(op == ReduceOp.ARGMAX ? DType.I32 : x.dtype(), outShape);
        long rows = out.numel();
        boolean f32 = c.dtype() == DType.F32;
        MemorySegment sc = c.segment();
        Parallel.range(rows, Math.max(1, 16384 / Math.max(1, len)), (lo, hi) -> {
            for (long row = lo; row < hi; row++) {
                long base = row * len;
                double v;
                if (f32 && (op == ReduceOp.SUM || op == ReduceOp.MEAN)) {
                    v = sumF32(sc, base * 4, len);
                    if (op == ReduceOp.MEAN) v /= len;
                } else if (f32 && (op == ReduceOp.MAX || op == ReduceOp.MIN)) {
                    v = extremeF32(sc, base * 4, len, op == ReduceOp.MAX);
                } else {
                    v = reduceScalar(op, c, base, len);
                }
                out.storeAt(row, v);
            }
        });
        if (c != x) c.close();
        return out;
    }

    /** Rows per float accumulation block in {@link #reduceColumnsF32} (block sums are added in double). */
    private static final int COLUMN_BLOCK = 128;
    /** Output elements per task in {@link #reduceColumnsF32}. */
    private static final int COLUMN_SPAN = 256;

    /**
     * Reduces a contiguous F32 tensor over a dimension that is not the last one, without moving it: x is
     * [outer, len, inner] and each output span out[o, i0..i1) folds the len rows x[o, j, i0..i1) together
     * with vector adds (or max/min), so no transposed copy is made.
     */
    private static void reduceColumnsF32(ReduceOp op, Tensor x, int[] s, int dim, Tensor out) {
        var F = Elementwise.F;
        var LE = Elementwise.LE;
        long outer = Shape.numel(java.util.Arrays.copyOfRange(s, 0, dim));
        long innerL = Shape.numel(java.util.Arrays.copyOfRange(s, dim + 1, s.length));
        int len = s[dim], inner = Math.toIntExact(innerL);
        int spans = (inner + COLUMN_SPAN - 1) / COLUMN_SPAN;
        MemorySegment sx = x.segment(), so = out.segment();
        long xb = x.byteOffset();
        boolean sum = op == ReduceOp.SUM || op == ReduceOp.MEAN, max = op == ReduceOp.MAX;
        Parallel.range(outer * spans, Math.max(1, (1L << 16) / Math.max(1, (long) len * Math.min(inner, COLUMN_SPAN))), (lo, hi) -> {
            float[] acc = new float[Math.min(inner, COLUMN_SPAN)];
            double[] total = new double[acc.length];
            for (long task = lo; task < hi; task++) {
                long o = task / spans;
                int i0 = (int) (task % spans) * COLUMN_SPAN, n = Math.min(COLUMN_SPAN, inner - i0);
                long row0 = xb + 4 * ((o * len) * innerL + i0); // byte address of x[o, 0, i0]
                long rowStep = 4 * innerL;
                if (sum) {
                    java.util.Arrays.fill(total, 0, n, 0);
                    for (int j0 = 0; j0 < len; j0 += COLUMN_BLOCK) {
                        java.util.Arrays.fill(acc, 0, n, 0f);
                        for (int j = j0, j1 = Math.min(len, j0 + COLUMN_BLOCK); j < j1; j++) {
                            long row = row0 + j * rowStep;
                            int d = 0;
                            for (int bound = F.loopBound(n); d < bound; d += F.length())
                                FloatVector.fromMemorySegment(F, sx, row + 4L * d, LE).add(FloatVector.fromArray(F, acc, d)).intoArray(acc, d);
                            for (; d < n; d++) acc[d] += sx.get(ValueLayout.JAVA_FLOAT, row + 4L * d);
                        }
                        for (int d = 0; d < n; d++) total[d] += acc[d];
                    }
                    for (int d = 0; d < n; d++)
                        so.setAtIndex(ValueLayout.JAVA_FLOAT, o * innerL + i0 + d, (float) (op == ReduceOp.MEAN ? total[d] / len : total[d]));
                } else {
                    MemorySegment.copy(sx, ValueLayout.JAVA_FLOAT, row0, acc, 0, n);
                    for (int j = 1; j < len; j++) {
                        long row = row0 + j * rowStep;
                        int d = 0;
                        for (int bound = F.loopBound(n); d < bound; d += F.length()) {
                            FloatVector v = FloatVector.fromMemorySegment(F, sx, row + 4L * d, LE), a = FloatVector.fromArray(F, acc, d);
                            (max ? a.max(v) : a.min(v)).intoArray(acc, d); // Math.max semantics: NaN propagates
                        }
                        for (; d < n; d++) {
                            float v = sx.get(ValueLayout.JAVA_FLOAT, row + 4L * d);
                            acc[d] = max ? Math.max(acc[d], v) : Math.min(acc[d], v);
                        }
                    }
                    MemorySegment.copy(acc, 0, so, ValueLayout.JAVA_FLOAT, 4 * (o * innerL + i0), n);
                }
            }
        });
    }

    /** Sum of a float row: blocks of {@link #SUM_BLOCK} accumulate in float lanes, block sums in double. */
    static double sumF32(MemorySegment s, long byteBase, int len) {
        var F = Elementwise.F;
        int step = F.length();
        double sum = 0;
        int j = 0;
        while (len - j >= 2 * step) {
            FloatVector acc = FloatVector.zero(F), acc2 = FloatVector.zero(F);
            int blockEnd = Math.min(len, j + SUM_BLOCK);
            for (int bound = blockEnd - 2 * step; j <= bound; j += 2 * step) {
                acc = acc.add(FloatVector.fromMemorySegment(F, s, byteBase + 4L * j, Elementwise.LE));
                acc2 = acc2.add(FloatVector.fromMemorySegment(F, s, byteBase + 4L * (j + step), Elementwise.LE));
            }
            sum += Lanes.sum(acc.add(acc2));
        }
        for (; j < len; j++) sum += s.get(ValueLayout.JAVA_FLOAT, byteBase + 4L * j);
        return sum;
    }

    // float accumulation error grows with the count per lane; a block keeps it at 32 terms per accumulator lane
    // whatever the vector width (1024 floats on AVX-512, 512 on AVX2)
    private static final int SUM_BLOCK = 64 * Elementwise.F.length();

    /** Max or min of a float row (NaN wins, as in {@link #reduceScalar}). */
    static double extremeF32(MemorySegment s, long byteBase, int len, boolean max) {
        var F = Elementwise.F;
        int j = 0;
        float m = s.get(ValueLayout.JAVA_FLOAT, byteBase);
        int bound = F.loopBound(len);
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(F, m);
            for (; j < bound; j += F.length()) {
                FloatVector v = FloatVector.fromMemorySegment(F, s, byteBase + 4L * j, Elementwise.LE);
                acc = max ? acc.max(v) : acc.min(v); // Math.max semantics: NaN propagates
            }
            m = acc.reduceLanes(max ? VectorOperators.MAX : VectorOperators.MIN);
        }
        for (; j < len; j++) {
            float v = s.get(ValueLayout.JAVA_FLOAT, byteBase + 4L * j);
            m = max ? Math.max(m, v) : Math.min(m, v);
        }
        return m;
    }

    private static double reduceScalar(ReduceOp op, Tensor c, long base, int len) {
        switch (op) {
            case SUM, MEAN -> {
                double sum = 0;
                for (int j = 0; j < len; j++) sum += c.loadAt(base + j);
                return op == ReduceOp.MEAN ? sum / len : sum;
            }
            case MAX, MIN -> {
                double m = c.loadAt(base);
                for (int j = 1; j < len; j++) {
                    double v = c.loadAt(base + j);
                    if (Double.isNaN(v)) return v;
                    if (op == ReduceOp.MAX ? v > m : v < m) m = v;
                }
                return m;
            }
            case ARGMAX -> {
                int best = 0;
                double m = c.loadAt(base);
                for (int j = 1; j < len; j++) {
                    double v = c.loadAt(base + j);
                    if (v > m || (Double.isNaN(v) && !Double.isNaN(m))) { m = v; best = j; }
                }
                return best;
            }
            default -> throw new AssertionError(op);
        }
    }

    /** Softmax or log-softmax along dim, max-subtracted. */
    static Tensor softmax(Tensor x, int dim, boolean log) {
        int r = x.dim();
        dim = Shape.axis(dim, r);
        if (x.dtype() == DType.F32 && dim < r - 1 && x.isContiguous() && x.size(dim) > 0) {
            Tensor out = Tensor.empty(DType.F32, x.shape());
            softmaxColumnsF32(x, x.shape(), dim, log, out);
            return out;
        }
        Tensor c = lastDimContiguous(x, dim);
        Tensor out = Tensor.empty(x.dtype(), c.shape());
        int len = c.size(-1);
        long rows = len == 0 ? 0 : c.numel() / len;
        boolean f32 = c.dtype() == DType.F32;
        MemorySegment sc = c.segment(), so = out.segment();
        Parallel.range(rows, Math.max(1, 8192 / Math.max(1, len)), (lo, hi) -> {
            for (long row = lo; row < hi; row++) {
                long base = row * len;
                if (f32) {
                    softmaxRowF32(sc, so, base * 4, len, log);
                } else {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) m = Math.max(m, c.loadAt(base + j));
                    double sum = 0;
                    for (int j = 0; j < len; j++) sum += Math.exp(c.loadAt(base + j) - m);
                    // work with z = v - m (exact for nearby values) so huge inputs keep their precision
                    double logSum = Math.log(sum), inv = 1 / sum;
                    for (int j = 0; j < len; j++) {
                        double z = c.loadAt(base + j) - m;
                        out.storeAt(base + j, log ? z - logSum : Math.exp(z) * inv);
                    }
                }
            }
        });
        if (c != x) c.close();
        if (dim == r - 1) return out;
        // move the last dim back to where it was
        int[] order = new int[r];
        for (int i = 0; i < r; i++) order[i] = i < dim ? i : (i == dim ? r - 1 : i - 1);
        Tensor back = out.permute(order).copy();
        out.close();
        return back;
    }

    /**
     * Softmax over a dimension that is not the last one of a contiguous F32 tensor [outer, len, inner],
     * without moving it: per output span, column maxima, then Σ exp(x − m) (float blocks summed in double),
     * then the normalized values, each pass folding whole rows with vector ops.
     */
    private static void softmaxColumnsF32(Tensor x, int[] s, int dim, boolean log, Tensor out) {
        var F = Elementwise.F;
        var LE = Elementwise.LE;
        long outer = Shape.numel(java.util.Arrays.copyOfRange(s, 0, dim));
        long innerL = Shape.numel(java.util.Arrays.copyOfRange(s, dim + 1, s.length));
        int len = s[dim], inner = Math.toIntExact(innerL);
        int spans = (inner + COLUMN_SPAN - 1) / COLUMN_SPAN;
        MemorySegment sx = x.segment(), so = out.segment();
        long xb = x.byteOffset();
        Parallel.range(outer * spans, Math.max(1, (1L << 15) / Math.max(1, (long) len * Math.min(inner, COLUMN_SPAN))), (lo, hi) -> {
            int w = Math.min(inner, COLUMN_SPAN);
            float[] m = new float[w], acc = new float[w], shift = new float[w];
            double[] total = new double[w];
            for (long task = lo; task < hi; task++) {
                long o = task / spans;
                int i0 = (int) (task % spans) * COLUMN_SPAN, n = Math.min(COLUMN_SPAN, inner - i0);
                long first = 4 * (o * len * innerL + i0), rowStep = 4 * innerL; // bytes of [o, 0, i0] (add xb for x)
                MemorySegment.copy(sx, ValueLayout.JAVA_FLOAT, xb + first, m, 0, n);
                for (int j = 1; j < len; j++) { // m = max_j x[o, j, :]
                    long row = xb + first + j * rowStep;
                    int d = 0;
                    for (int bound = F.loopBound(n); d < bound; d += F.length())
                        FloatVector.fromArray(F, m, d).max(FloatVector.fromMemorySegment(F, sx, row + 4L * d, LE)).intoArray(m, d);
                    for (; d < n; d++) m[d] = Math.max(m[d], sx.get(ValueLayout.JAVA_FLOAT, row + 4L * d));
                }
                java.util.Arrays.fill(total, 0, n, 0);
                for (int j0 = 0; j0 < len; j0 += COLUMN_BLOCK) { // total = Σ_j exp(x − m); the numerators go to out
                    java.util.Arrays.fill(acc, 0, n, 0f);
                    for (int j = j0, j1 = Math.min(len, j0 + COLUMN_BLOCK); j < j1; j++) {
                        long row = first + j * rowStep;
                        int d = 0;
                        for (int bound = F.loopBound(n); d < bound; d += F.length()) {
                            FloatVector e = FloatVector.fromMemorySegment(F, sx, xb + row + 4L * d, LE).sub(FloatVector.fromArray(F, m, d))
                                    .lanewise(VectorOperators.EXP);
                            e.add(FloatVector.fromArray(F, acc, d)).intoArray(acc, d);
                            if (!log) e.intoMemorySegment(so, row + 4L * d, LE);
                        }
                        for (; d < n; d++) {
                            float e = (float) Math.exp(sx.get(ValueLayout.JAVA_FLOAT, xb + row + 4L * d) - m[d]);
                            acc[d] += e;
                            if (!log) so.set(ValueLayout.JAVA_FLOAT, row + 4L * d, e);
                        }
                    }
                    for (int d = 0; d < n; d++) total[d] += acc[d];
                }
                for (int d = 0; d < n; d++) shift[d] = (float) (log ? Math.log(total[d]) : 1 / total[d]);
                for (int j = 0; j < len; j++) { // log: (x − m) − log Σ;  softmax: numerator · (1/Σ)
                    long row = first + j * rowStep;
                    int d = 0;
                    for (int bound = F.loopBound(n); d < bound; d += F.length()) {
                        FloatVector r = log
                                ? FloatVector.fromMemorySegment(F, sx, xb + row + 4L * d, LE).sub(FloatVector.fromArray(F, m, d)).sub(FloatVector.fromArray(F, shift, d))
                                : FloatVector.fromMemorySegment(F, so, row + 4L * d, LE).mul(FloatVector.fromArray(F, shift, d));
                        r.intoMemorySegment(so, row + 4L * d, LE);
                    }
                    for (; d < n; d++) {
                        float v = log ? (sx.get(ValueLayout.JAVA_FLOAT, xb + row + 4L * d) - m[d]) - shift[d]
                                : so.get(ValueLayout.JAVA_FLOAT, row + 4L * d) * shift[d];
                        so.set(ValueLayout.JAVA_FLOAT, row + 4L * d, v);
                    }
                }
            }
        });
    }

    static void softmaxRowF32(MemorySegment s, MemorySegment o, long b, int len, boolean log) {
        var F = Elementwise.F;
        var LE = Elementwise.LE;
        float m = Float.NEGATIVE_INFINITY;
        int j = 0;
        int bound = F.loopBound(len);
        if (bound > 0) {
            FloatVector vm = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; j < bound; j += F.length()) vm = vm.max(FloatVector.fromMemorySegment(F, s, b + 4L * j, LE));
            m = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; j < len; j++) m = Math.max(m, s.get(ValueLayout.JAVA_FLOAT, b + 4L * j));
        double sum = 0;
        FloatVector acc = FloatVector.zero(F);
        j = 0;
        for (; j < bound; j += F.length()) {
            FloatVector e = FloatVector.fromMemorySegment(F, s, b + 4L * j, LE).sub(m).lanewise(VectorOperators.EXP);
            acc = acc.add(e);
            if (!log) e.intoMemorySegment(o, b + 4L * j, LE);
        }
        sum += Lanes.sum(acc);
        for (; j < len; j++) {
            float e = (float) Math.exp(s.get(ValueLayout.JAVA_FLOAT, b + 4L * j) - m);
            sum += e;
            if (!log) o.set(ValueLayout.JAVA_FLOAT, b + 4L * j, e);
        }
        if (log) {
            // (v - m) - log(sum): rounding m + log(sum) to float first would lose up to ulp(m)/2
            float logSum = (float) Math.log(sum);
            j = 0;
            for (; j < bound; j += F.length())
                FloatVector.fromMemorySegment(F, s, b + 4L * j, LE).sub(m).sub(logSum).intoMemorySegment(o, b + 4L * j, LE);
            for (; j < len; j++) o.set(ValueLayout.JAVA_FLOAT, b + 4L * j, (s.get(ValueLayout.JAVA_FLOAT, b + 4L * j) - m) - logSum);
        } else {
            float inv = (float) (1.0 / sum);
            j = 0;
            for (; j < bound; j += F.length())
                FloatVector.fromMemorySegment(F, o, b + 4L * j, LE).mul(inv).intoMemorySegment(o, b + 4L * j, LE);
            for (; j < len; j++) o.set(ValueLayout.JAVA_FLOAT, b + 4L * j, o.get(ValueLayout.JAVA_FLOAT, b + 4L * j) * inv);
        }
    }

    /** Sums x down to {@code target} (NumPy broadcasting in reverse). */
    static Tensor sumTo(Tensor x, int[] target) {
        int[] s = x.shape();
        if (java.util.Arrays.equals(s, target)) return x.copy();
        int[] b = Shape.broadcast(target, s);
        if (!java.util.Arrays.equals(b, s))
            throw new IllegalArgumentException("cannot sum " + java.util.Arrays.toString(s) + " to " + java.util.Arrays.toString(target));
        Tensor cur = x;
        int lead = s.length - target.length;
        for (int i = 0; i < lead; i++) {
            Tensor n = reduce(ReduceOp.SUM, cur, 0, false);
            if (cur != x) cur.close();
            cur = n;
        }
        for (int d = 0; d < target.length; d++) {
            if (target[d] == 1 && cur.size(d) != 1) {
                Tensor n = reduce(ReduceOp.SUM, cur, d, true);
                if (cur != x) cur.close();
                cur = n;
            }
        }
        if (cur == x) return x.copy();
        return cur;
    }
}
