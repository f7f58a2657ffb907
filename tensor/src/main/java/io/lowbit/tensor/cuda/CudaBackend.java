package io.lowbit.tensor.cuda;

import io.lowbit.tensor.Backend;
import io.lowbit.tensor.BinaryOp;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.ReduceOp;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Storage;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.UnaryOp;
import java.util.Arrays;
import jcuda.Pointer;

/**
 * The CUDA backend: the same semantics as {@link io.lowbit.tensor.cpu.CpuBackend} for tensors whose
 * storage lives on device 0. Outputs are new contiguous device tensors from {@link CudaAllocator};
 * elementwise ops, reductions and indexing run NVRTC-compiled kernels ({@link KernelSource}); matmul runs
 * cuBLAS ({@link CudaMatMul}). Index tensors may live on either side (they are checked on the host).
 * Exists only after a successful {@link CudaProbe}; {@link #instance()} throws the probe's reason otherwise.
 */
public final class CudaBackend implements Backend {
    private static volatile CudaBackend instance;

    final CudaContext ctx;
    final KernelCache kernels;

    private CudaBackend(CudaStatus status) {
        ctx = new CudaContext(status);
        kernels = new KernelCache(ctx);
    }

    /** The backend of device 0; throws IllegalStateException with the probe's reason when CUDA is unavailable. */
    public static CudaBackend instance() {
        CudaBackend b = instance;
        if (b != null) return b;
        CudaStatus st = CudaProbe.status();
        if (!st.available()) throw new IllegalStateException("no CUDA backend on this machine: " + st.describe());
        synchronized (CudaBackend.class) {
            if (instance == null) instance = new CudaBackend(st);
            return instance;
        }
    }

    @Override
    public String name() {
        return "cuda:0";
    }

    // ---------------------------------------------------------------- memory and transfers

    @Override
    public Tensor empty(DType dtype, MemoryCategory category, int... shape) {
        ctx.bind();
        long bytes = Shape.numel(shape) * dtype.bytes;
        Storage s = new Storage(CudaAllocator.allocate(bytes, category), category, Device.CUDA);
        return Tensor.ofStorage(s, dtype, shape);
    }

    /** The device pointer of {@code t}'s storage (byte 0 of the storage, not of the view). */
    static Pointer ptr(Tensor t, String what) {
        if (t.device() != Device.CUDA)
            throw new IllegalArgumentException(what + ": tensor " + t + " is on " + t.device() + ", expected CUDA; move it with Devices.to(t, Device.CUDA)");
        if (!(t.storage().deviceMemory() instanceof CudaAllocator.Block b))
            throw new IllegalArgumentException(what + ": CUDA tensor " + t + " holds no memory from the CUDA allocator");
        return b.pointer;
    }

    /** A contiguous device copy of host tensor {@code cpu} in {@code category}. */
    public Tensor toDevice(Tensor cpu, MemoryCategory category) {
        if (cpu.device() != Device.CPU) throw new IllegalArgumentException("toDevice of a tensor already on " + cpu.device());
        Tensor c = cpu.contiguous();
        try {
            Tensor out = empty(cpu.dtype(), category, cpu.shape());
            try {
                Transfers.upload(c.segment(), c.byteOffset(), ptr(out, "toDevice"), 0, cpu.numel() * cpu.dtype().bytes);
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
            return out;
        } finally {
            if (c != cpu) c.close();
        }
    }

    /** A contiguous host copy of device tensor {@code dev}, in its category. */
    public Tensor toCpu(Tensor dev) {
        Tensor c = contiguous(dev);
        try {
            Tensor out = Tensor.empty(dev.dtype(), dev.category(), dev.shape());
            try {
                ctx.bind();
                Transfers.download(ptr(c, "toCpu"), c.byteOffset(), out.segment(), 0, dev.numel() * dev.dtype().bytes);
            } catch (RuntimeException e) {
                out.close();
                throw e;
            }
            return out;
        } finally {
            if (c != dev) c.close();
        }
    }

    /**
     * {@code t} if it is contiguous on the device and starts at element 0 of its storage (so a kernel may
     * index the raw pointer), else a contiguous device copy.
     */
    Tensor contiguous(Tensor t) {
        ptr(t, "contiguous");
        if (t.isContiguous() && t.offset() == 0) return t;
        Tensor out = empty(t.dtype(), MemoryCategory.ACTIVATIONS, t.shape());
        copy(t, out);
        return out;
    }

    /** {@code t} on the device: itself when it is there, else an uploaded copy the caller closes. */
    Tensor onDevice(Tensor t) {
        return t.device() == Device.CUDA ? t : toDevice(t, MemoryCategory.SCRATCH);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        sameShape("copy", src, dst);
        Tensor s = onDevice(src);
        try {
            long n = dst.numel();
            if (s.dtype() == dst.dtype() && s.isContiguous() && dst.isContiguous()) {
                ctx.bind();
                Transfers.deviceCopy(ptr(s, "copy"), s.byteOffset(), ptr(dst, "copy"), dst.byteOffset(), n * dst.dtype().bytes);
            } else {
                kernels.launch(DType.F32, "convert", n, ptr(s, "copy"), Layout.of(s), s.dtype().ordinal(),
                        ptr(dst, "copy"), Layout.of(dst), dst.dtype().ordinal(), n);
            }
        } finally {
            if (s != src) s.close();
        }
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void fill(Tensor dst, double v) {
        kernels.launch(DType.F32, "fill", dst.numel(), ptr(dst, "fill"), Layout.of(dst), dst.dtype().ordinal(), v, dst.numel());
    }

    @Override
    public void axpy(double alpha, Tensor x, Tensor dst) {
        sameShape("axpy", x, dst);
        computeDType("axpy", dst);
        Tensor xs = onDevice(x);
        Tensor xd = xs.dtype() == dst.dtype() ? xs : xs.to(dst.dtype());
        try {
            kernels.launch(dst.dtype(), "axpy", dst.numel(), alpha, ptr(xd, "axpy"), Layout.of(xd), ptr(dst, "axpy"), Layout.of(dst), dst.numel());
        } finally {
            if (xd != xs) xd.close();
            if (xs != x) xs.close();
        }
    }

    @Override
    public void scale(Tensor dst, double alpha) {
        computeDType("scale", dst);
        long[] l = Layout.of(dst);
        Pointer p = ptr(dst, "scale");
        kernels.launch(dst.dtype(), "unary", dst.numel(), UnaryOp.MUL_SCALAR.ordinal(), p, l, p, l, alpha, dst.numel());
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x, double arg) {
        computeDType(op.name().toLowerCase(), x);
        Tensor out = empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
        kernels.launch(x.dtype(), "unary", x.numel(), op.ordinal(), ptr(x, op.name()), Layout.of(x),
                ptr(out, op.name()), Layout.of(out), arg, x.numel());
        return out;
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        String what = op.name().toLowerCase();
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException(what + ": dtypes " + a.dtype() + " and " + b.dtype() + " differ");
        computeDType(what, a);
        int[] s = Shape.broadcast(a.shape(), b.shape());
        Tensor bd = onDevice(b);
        try {
            Tensor ab = Shape.broadcastTo(a, s), bb = Shape.broadcastTo(bd, s);
            Tensor out = empty(a.dtype(), MemoryCategory.ACTIVATIONS, s);
            kernels.launch(a.dtype(), "binary", out.numel(), op.ordinal(), ptr(ab, what), Layout.of(ab), ptr(bb, what), Layout.of(bb),
                    ptr(out, what), out.numel());
            return out;
        } finally {
            if (bd != b) bd.close();
        }
    }

    // ---------------------------------------------------------------- reductions

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepdim) {
        computeDType(op.name().toLowerCase(), x);
        int r = x.dim();
        DType outType = op == ReduceOp.ARGMAX ? DType.I32 : x.dtype();
        if (r == 0) {
            Tensor out = empty(outType, MemoryCategory.ACTIVATIONS);
            if (op == ReduceOp.ARGMAX) fill(out, 0);
            else copy(x, out);
            return out;
        }
        dim = Shape.axis(dim, r);
        int len = x.size(dim);
        if (len == 0 && (op == ReduceOp.MAX || op == ReduceOp.MIN || op == ReduceOp.ARGMAX))
            throw new IllegalArgumentException(op + " over an empty dimension of shape " + Arrays.toString(x.shape()));
        KernelPlans.Reduce p = KernelPlans.reduce(x, dim, keepdim);
        Tensor out = empty(outType, MemoryCategory.ACTIVATIONS, p.outShape());
        kernels.launchRows(x.dtype(), "reduce", out.numel(), op.ordinal(), ptr(x, "reduce"), p.kept(), p.reduced(), p.len(), ptr(out, "reduce"));
        return out;
    }

    @Override
    public Tensor sumTo(Tensor x, int[] target) {
        computeDType("sumTo", x);
        int[] s = x.shape();
        if (Arrays.equals(s, target)) return x.copy();
        KernelPlans.Reduce p = KernelPlans.sumTo(x, target);
        Tensor out = empty(x.dtype(), MemoryCategory.ACTIVATIONS, target);
        kernels.launchRows(x.dtype(), "reduce", out.numel(), ReduceOp.SUM.ordinal(), ptr(x, "sumTo"), p.kept(), p.reduced(), p.len(), ptr(out, "sumTo"));
        return out;
    }

    @Override
    public Tensor softmax(Tensor x, int dim, boolean log) {
        computeDType(log ? "logSoftmax" : "softmax", x);
        KernelPlans.Softmax p = KernelPlans.softmax(x, dim, Shape.contiguousStrides(x.shape())); // checks dim before allocating
        Tensor out = empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
        kernels.launchRows(x.dtype(), "softmax", p.rows(), ptr(x, "softmax"), p.keptX(), p.xStride(), ptr(out, "softmax"), p.keptOut(),
                p.outStride(), p.len(), log ? 1 : 0);
        return out;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return CudaMatMul.matmul(this, a, b, false);
    }

    /**
     * Matmul of BF16 or F16 operands with fp32 accumulation and an F32 result (cuBLAS GemmEx); same
     * shape rules as {@link #matmul}.
     */
    public Tensor matmulMixed(Tensor a, Tensor b) {
        return CudaMatMul.matmul(this, a, b, true);
    }

    // ---------------------------------------------------------------- indexing

    @Override
    public Tensor indexSelect(Tensor x, int dim, Tensor idx) {
        dim = Shape.axis(dim, x.dim());
        int[] s = x.shape();
        int[] ids = hostIndex(idx, s[dim], "indexSelect");
        int[] is = idx.shape();
        int[] outShape = new int[s.length - 1 + is.length];
        System.arraycopy(s, 0, outShape, 0, dim);
        System.arraycopy(is, 0, outShape, dim, is.length);
        System.arraycopy(s, dim + 1, outShape, dim + is.length, s.length - dim - 1);
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= s[i];
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        Tensor c = contiguous(x);
        Tensor out = empty(x.dtype(), MemoryCategory.ACTIVATIONS, outShape);
        try (Tensor hostIds = Tensor.of(ids, ids.length); Tensor dIds = toDevice(hostIds, MemoryCategory.SCRATCH)) {
            DType t = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
            if (x.dtype() == DType.F32 || x.dtype() == DType.F64) {
                kernels.launch(t, "index_select", out.numel(), ptr(c, "indexSelect"), ptr(dIds, "indexSelect"), ptr(out, "indexSelect"),
                        outer, (long) s[dim], (long) ids.length, inner);
            } else {
                // other dtypes: one row copy per selected slice (bytes only, no arithmetic)
                long eb = x.dtype().bytes;
                ctx.bind();
                for (long o = 0; o < outer; o++)
                    for (int j = 0; j < ids.length; j++)
                        Transfers.deviceCopy(ptr(c, "indexSelect"), ((o * s[dim] + ids[j]) * inner) * eb, ptr(out, "indexSelect"),
                                ((o * ids.length + j) * inner) * eb, inner * eb);
            }
        } finally {
            if (c != x) c.close();
        }
        return out;
    }

    @Override
    public Tensor gather(Tensor x, int dim, Tensor idx) {
        computeDType("gather", x);
        dim = Shape.axis(dim, x.dim());
        if (idx.dim() != x.dim()) throw new IllegalArgumentException("gather: index rank " + idx.dim() + " != input rank " + x.dim());
        int[] is = idx.shape();
        for (int a = 0; a < is.length; a++)
            if (a != dim && is[a] > x.size(a))
                throw new IndexOutOfBoundsException("gather: index shape " + Arrays.toString(is) + " exceeds input " + Arrays.toString(x.shape()));
        hostIndex(idx, x.size(dim), "gather");
        Tensor di = onDevice(idx);
        try {
            Tensor out = empty(x.dtype(), MemoryCategory.ACTIVATIONS, is);
            KernelPlans.Gather p = KernelPlans.gather(is, x.strides(), x.offset(), dim);
            kernels.launch(x.dtype(), "gather", out.numel(), ptr(x, "gather"), p.atIndex(), ptr(di, "gather"), Layout.of(di),
                    p.dimSize(), p.after(), p.dimStride(), ptr(out, "gather"), out.numel());
            return out;
        } finally {
            if (di != idx) di.close();
        }
    }

    @Override
    public Tensor scatterAdd(Tensor x, int dim, Tensor idx, Tensor src) {
        computeDType("scatterAdd", x);
        dim = Shape.axis(dim, x.dim());
        sameShape("scatterAdd index/src", idx, src);
        int[] is = idx.shape();
        for (int a = 0; a < is.length; a++)
            if (a != dim && is[a] > x.size(a))
                throw new IndexOutOfBoundsException("scatterAdd: index shape " + Arrays.toString(is) + " exceeds input " + Arrays.toString(x.shape()));
        hostIndex(idx, x.size(dim), "scatterAdd");
        Tensor out = x.copy();
        Tensor di = onDevice(idx), ds = onDevice(src);
        Tensor dsc = ds.dtype() == x.dtype() ? ds : ds.to(x.dtype());
        try {
            KernelPlans.Gather p = KernelPlans.gather(is, out.strides(), 0, dim);
            kernels.launch(x.dtype(), "scatter_add", idx.numel(), ptr(out, "scatterAdd"), p.atIndex(), ptr(di, "scatterAdd"), Layout.of(di),
                    ptr(dsc, "scatterAdd"), Layout.of(dsc), p.dimSize(), p.after(), p.dimStride(), idx.numel());
            return out;
        } finally {
            if (dsc != ds) dsc.close();
            if (ds != src) ds.close();
            if (di != idx) di.close();
        }
    }

    @Override
    public void indexAdd(Tensor dst, Tensor idx, Tensor src) {
        computeDType("indexAdd", dst);
        if (idx.dim() != 1 || src.dim() != dst.dim() || src.size(0) != idx.size(0)
                || !Arrays.equals(Arrays.copyOfRange(src.shape(), 1, src.dim()), Arrays.copyOfRange(dst.shape(), 1, dst.dim())))
            throw new IllegalArgumentException("indexAdd: dst " + Arrays.toString(dst.shape()) + ", index " + Arrays.toString(idx.shape())
                    + ", src " + Arrays.toString(src.shape()));
        hostIndex(idx, dst.size(0), "indexAdd");
        Tensor du = onDevice(idx), di = contiguous(du), dsrc = onDevice(src); // the kernel reads idx[i] directly
        Tensor sc = dsrc.dtype() == dst.dtype() ? dsrc : dsrc.to(dst.dtype());
        try {
            KernelPlans.IndexAdd p = KernelPlans.indexAdd(dst, src.size(0), src.numel());
            kernels.launch(dst.dtype(), "index_add", src.numel(), ptr(dst, "indexAdd"), p.row(), p.dimStride0(),
                    ptr(di, "indexAdd"), ptr(sc, "indexAdd"), Layout.of(sc), p.rowElems(), src.numel());
        } finally {
            if (sc != dsrc) sc.close();
            if (dsrc != src) dsrc.close();
            if (di != du) di.close();
            if (du != idx) du.close();
        }
    }

    // index values on the host, checked against [0, bound) (a device index is downloaded once)
    int[] hostIndex(Tensor idx, int bound, String what) {
        int[] v = hostInts(idx, what);
        for (int i : v) if (i < 0 || i >= bound) throw new IndexOutOfBoundsException(what + ": index " + i + " out of range [0, " + bound + ")");
        return v;
    }

    // like hostIndex, but negative values are allowed (they mark ignored rows)
    int[] hostIndexAllowingNegative(Tensor idx, int bound, String what) {
        int[] v = hostInts(idx, what);
        for (int i : v) if (i >= bound) throw new IndexOutOfBoundsException(what + ": index " + i + " out of range [0, " + bound + ")");
        return v;
    }

    private int[] hostInts(Tensor idx, String what) {
        if (idx.dtype() != DType.I32) throw new IllegalArgumentException(what + " needs an I32 index tensor, got " + idx.dtype());
        if (idx.device() == Device.CPU) return idx.toIntArray();
        try (Tensor h = toCpu(idx)) {
            return h.toIntArray();
        }
    }

    static void sameShape(String what, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(what + ": shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " differ");
    }

    static void computeDType(String what, Tensor t) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64)
            throw new IllegalArgumentException(what + " computes in F32 or F64, got " + t.dtype() + "; convert with to()");
    }
}
