package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Backend;
import io.lowbit.tensor.BinaryOp;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.ReduceOp;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** The CPU backend: Vector API kernels over off-heap memory, split across {@link Parallel}'s pool. */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {}

    @Override
    public String name() {
        return "cpu";
    }

    private static void sameShape(String what, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(what + ": shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " differ");
    }

    // checked before an output is allocated, so a closed input cannot leak the output
    private static void alive(String what, Tensor... ts) {
        for (Tensor t : ts)
            if (t.isClosed())
                throw new IllegalStateException(what + ": tensor " + t.dtype() + Arrays.toString(t.shape()) + " used after close");
    }

    private static void computeDType(String what, Tensor t) {
        alive(what, t);
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64)
            throw new IllegalArgumentException(what + " computes in F32 or F64, got " + t.dtype() + "; convert with to()");
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        alive("copy", src, dst);
        sameShape("copy", src, dst);
        Elementwise.copy(src, dst);
    }

    @Override
    public void fill(Tensor dst, double v) {
        Elementwise.fill(dst, v);
    }

    @Override
    public void axpy(double alpha, Tensor x, Tensor dst) {
        sameShape("axpy", x, dst);
        Elementwise.axpy(alpha, x, dst);
    }

    @Override
    public void scale(Tensor dst, double alpha) {
        Elementwise.unary(UnaryOp.MUL_SCALAR, dst, dst, alpha);
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x, double arg) {
        computeDType(op.name().toLowerCase(), x);
        Tensor out = Tensor.empty(x.dtype(), x.shape());
        Tensor xu = unitStride(x);
        try {
            Elementwise.unary(op, xu, out, arg);
        } finally {
            if (xu != x) xu.close();
        }
        return out;
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        alive(op.name().toLowerCase(), a, b);
        if (a.dtype() != b.dtype())
            throw new IllegalArgumentException(op.name().toLowerCase() + ": dtypes " + a.dtype() + " and " + b.dtype() + " differ");
        computeDType(op.name().toLowerCase(), a);
        int[] s = Shape.broadcast(a.shape(), b.shape());
        Tensor out = Tensor.empty(a.dtype(), s);
        Tensor ab = Shape.broadcastTo(a, s), bb = Shape.broadcastTo(b, s);
        Tensor au = unitStride(ab), bu = unitStride(bb);
        try {
            Elementwise.binary(op, au, bu, out);
        } finally {
            if (au != ab) au.close();
            if (bu != bb) bu.close();
        }
        return out;
    }

    /**
     * A contiguous copy of a large F32 operand whose last dimension is strided (a transposed view), so the
     * op runs on the vector path after one cache-blocked copy; otherwise t itself.
     */
    private static Tensor unitStride(Tensor t) {
        if (t.dtype() == DType.F32 && t.dim() >= 2 && t.numel() >= 4096 && t.size(-1) > 1 && t.stride(-1) != 1 && t.stride(-1) != 0)
            return t.contiguous();
        return t;
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepdim) {
        computeDType(op.name().toLowerCase(), x);
        return Reductions.reduce(op, x, dim, keepdim);
    }

    @Override
    public Tensor sumTo(Tensor x, int[] shape) {
        computeDType("sumTo", x);
        return Reductions.sumTo(x, shape);
    }

    @Override
    public Tensor softmax(Tensor x, int dim, boolean log) {
        computeDType(log ? "logSoftmax" : "softmax", x);
        return Reductions.softmax(x, dim, log);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        alive("matmul", a, b);
        return MatMul.matmul(a, b);
    }

    private static void checkIndex(Tensor idx, int bound, String what) {
        if (idx.dtype() != DType.I32) throw new IllegalArgumentException(what + " needs an I32 index tensor, got " + idx.dtype());
        for (long i = 0, n = idx.numel(); i < n; i++) {
            int v = (int) idx.getDouble(i);
            if (v < 0 || v >= bound) throw new IndexOutOfBoundsException(what + ": index " + v + " out of range [0, " + bound + ")");
        }
    }

    @Override
    public Tensor indexSelect(Tensor x, int dim, Tensor idx) {
        alive("indexSelect", x, idx);
        dim = Shape.axis(dim, x.dim());
        int[] s = x.shape();
        checkIndex(idx, s[dim], "indexSelect");
        Tensor c = x.contiguous();
        int[] is = idx.shape();
        int[] outShape = new int[s.length - 1 + is.length];
        System.arraycopy(s, 0, outShape, 0, dim);
        System.arraycopy(is, 0, outShape, dim, is.length);
        System.arraycopy(s, dim + 1, outShape, dim + is.length, s.length - dim - 1);
        Tensor out = Tensor.empty(x.dtype(), outShape);
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= s[i];
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        int[] ids = idx.toIntArray();
        long eb = x.dtype().bytes;
        MemorySegment src = c.segment(), dst = out.segment();
        long srcBase = c.byteOffset();
        int n = ids.length, d = s[dim];
        final long fin = inner;
        Parallel.range(outer * n, Math.max(1, 4096 / Math.max(1, inner)), (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                long o = r / n;
                int j = (int) (r - o * n);
                MemorySegment.copy(src, srcBase + ((o * d + ids[j]) * fin) * eb, dst, r * fin * eb, fin * eb);
            }
        });
        if (c != x) c.close();
        return out;
    }

    @Override
    public Tensor gather(Tensor x, int dim, Tensor idx) {
        alive("gather", x, idx);
        dim = Shape.axis(dim, x.dim());
        if (idx.dim() != x.dim()) throw new IllegalArgumentException("gather: index rank " + idx.dim() + " != input rank " + x.dim());
        checkIndex(idx, x.size(dim), "gather");
        int[] is = idx.shape();
        for (int a = 0; a < is.length; a++) // checked before allocating, so a bad call leaks nothing
            if (a != dim && is[a] > x.size(a))
                throw new IndexOutOfBoundsException("gather: index shape " + Arrays.toString(is) + " exceeds input " + Arrays.toString(x.shape()));
        Tensor out = Tensor.empty(x.dtype(), is);
        int[] pos = new int[is.length];
        for (long i = 0, n = idx.numel(); i < n; i++) {
            unravel(i, is, pos);
            pos[dim] = (int) idx.loadAt(idx.elementIndex(i));
            out.storeAt(i, x.get(pos));
        }
        return out;
    }

    @Override
    public Tensor scatterAdd(Tensor x, int dim, Tensor idx, Tensor src) {
        alive("scatterAdd", x, idx, src);
        dim = Shape.axis(dim, x.dim());
        sameShape("scatterAdd index/src", idx, src);
        checkIndex(idx, x.size(dim), "scatterAdd");
        int[] is0 = idx.shape();
        if (is0.length != x.dim())
            throw new IllegalArgumentException("scatterAdd: index rank " + is0.length + " != input rank " + x.dim());
        for (int a = 0; a < is0.length; a++)
            if (a != dim && is0[a] > x.size(a))
                throw new IndexOutOfBoundsException("scatterAdd: index shape " + Arrays.toString(is0) + " exceeds input " + Arrays.toString(x.shape()));
        Tensor out = x.copy();
        int[] is = idx.shape();
        int[] pos = new int[is.length];
        for (long i = 0, n = idx.numel(); i < n; i++) {
            unravel(i, is, pos);
            pos[dim] = (int) idx.getDouble(i);
            long e = out.elementIndex(pos);
            out.storeAt(e, out.loadAt(e) + src.getDouble(i));
        }
        return out;
    }

    @Override
    public void indexAdd(Tensor dst, Tensor idx, Tensor src) {
        if (idx.dim() != 1 || src.size(0) != idx.size(0))
            throw new IllegalArgumentException("indexAdd: index " + Arrays.toString(idx.shape()) + " vs src " + Arrays.toString(src.shape()));
        checkIndex(idx, dst.size(0), "indexAdd");
        int[] rowD = Arrays.copyOfRange(dst.shape(), 1, dst.dim()), rowS = Arrays.copyOfRange(src.shape(), 1, src.dim());
        if (!Arrays.equals(Shape.broadcast(rowS, rowD), rowD)) // checked up front: a failure must not leave dst half-updated
            throw new IllegalArgumentException("indexAdd: src rows " + Arrays.toString(src.shape()) + " do not fit dst rows "
                    + Arrays.toString(dst.shape()));
        int[] ids = idx.toIntArray();
        for (int i = 0; i < ids.length; i++) {
            Tensor row = dst.select(0, ids[i]);
            row.addInPlace(src.select(0, i));
        }
    }

    static void unravel(long i, int[] shape, int[] pos) {
        for (int d = shape.length - 1; d >= 0; d--) {
            pos[d] = (int) (i % shape[d]);
            i /= shape[d];
        }
    }

    static float f(MemorySegment s, long i) {
        return s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
    }
}
