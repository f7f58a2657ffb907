package io.lowbit.tensor;

import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * An n-dimensional array over off-heap memory: a {@link Storage} plus dtype, shape, element strides and
 * an element offset. Views (reshape, transpose, narrow, expand) share the storage and copy nothing;
 * {@link #contiguous()} copies only when the layout asks for it.
 *
 * <p>Ownership: a tensor made by a factory or an op owns its storage and belongs to the current
 * {@link MemoryScope} if one is open; {@link #close()} returns its bytes to the {@link Allocator}.
 * Closing a view does nothing; a view must not outlive its base.
 *
 * <p>Ops (elementwise with NumPy broadcasting, reductions, softmax, matmul, gather/scatter) return new
 * contiguous tensors in the {@link MemoryCategory#ACTIVATIONS} category and dispatch through the
 * tensor's {@link Backend}. Compute dtypes are F32 and F64; both operands must agree.
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final DType dtype;
    private final int[] shape;
    private final long[] strides; // in elements
    private final long offset; // in elements
    private final boolean owner;

    Tensor(Storage storage, DType dtype, int[] shape, long[] strides, long offset, boolean owner) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.owner = owner;
    }

    // ---------------------------------------------------------------- factories

    /** Uninitialized contiguous tensor. */
    public static Tensor empty(DType dtype, MemoryCategory category, int... shape) {
        checkShape(shape);
        Storage s = Allocator.allocate(Shape.numel(shape) * dtype.bytes, category);
        MemoryScope.register(s);
        return new Tensor(s, dtype, shape.clone(), Shape.contiguousStrides(shape), 0, true);
    }

    /** Uninitialized contiguous activation tensor. */
    public static Tensor empty(DType dtype, int... shape) {
        return empty(dtype, MemoryCategory.ACTIVATIONS, shape);
    }

    /** Zero-filled tensor. */
    public static Tensor zeros(DType dtype, MemoryCategory category, int... shape) {
        Tensor t = empty(dtype, category, shape);
        t.storage.segment().fill((byte) 0);
        return t;
    }

    /** Zero-filled activation tensor. */
    public static Tensor zeros(DType dtype, int... shape) {
        return zeros(dtype, MemoryCategory.ACTIVATIONS, shape);
    }

    /** Tensor filled with {@code value}. */
    public static Tensor full(DType dtype, double value, int... shape) {
        Tensor t = empty(dtype, shape);
        t.fill(value);
        return t;
    }

    /** Zero-filled tensor with the shape and dtype of {@code like}. */
    public static Tensor zerosLike(Tensor like) {
        return zeros(like.dtype, like.shape);
    }

    /** F32 tensor copied from a Java array. */
    public static Tensor of(float[] data, int... shape) {
        if (Shape.numel(shape) != data.length)
            throw new IllegalArgumentException(data.length + " values do not fill shape " + Arrays.toString(shape));
        Tensor t = empty(DType.F32, shape);
        MemorySegment.copy(data, 0, t.storage.segment(), ValueLayout.JAVA_FLOAT, 0, data.length);
        return t;
    }

    /** F64 tensor copied from a Java array. */
    public static Tensor of(double[] data, int... shape) {
        if (Shape.numel(shape) != data.length)
            throw new IllegalArgumentException(data.length + " values do not fill shape " + Arrays.toString(shape));
        Tensor t = empty(DType.F64, shape);
        MemorySegment.copy(data, 0, t.storage.segment(), ValueLayout.JAVA_DOUBLE, 0, data.length);
        return t;
    }

    /** I32 tensor copied from a Java array. */
    public static Tensor of(int[] data, int... shape) {
        if (Shape.numel(shape) != data.length)
            throw new IllegalArgumentException(data.length + " values do not fill shape " + Arrays.toString(shape));
        Tensor t = empty(DType.I32, shape);
        MemorySegment.copy(data, 0, t.storage.segment(), ValueLayout.JAVA_INT, 0, data.length);
        return t;
    }

    /** Scalar (0-d) tensor. */
    public static Tensor scalar(DType dtype, double v) {
        Tensor t = empty(dtype);
        t.setDouble(0, v);
        return t;
    }

    /** Uniform values in [lo, hi) from {@code rng} (advances it by numel). */
    public static Tensor uniform(DType dtype, Rng rng, double lo, double hi, int... shape) {
        Tensor t = empty(dtype, shape);
        long start = rng.advance(t.numel());
        // value i depends only on (seed, start + i): the same tensor for every thread count
        Parallel.range(t.numel(), 1 << 14, (a, b) -> {
            for (long i = a; i < b; i++) t.storeAt(i, lo + (hi - lo) * rng.uniformAt(start + i));
        });
        return t;
    }

    /** Normal values with the given mean and standard deviation from {@code rng} (advances it by numel). */
    public static Tensor normal(DType dtype, Rng rng, double mean, double std, int... shape) {
        Tensor t = empty(dtype, shape);
        long start = rng.advance(t.numel());
        Parallel.range(t.numel(), 1 << 14, (a, b) -> {
            for (long i = a; i < b; i++) t.storeAt(i, mean + std * rng.normalAt(start + i));
        });
        return t;
    }

    /** 0, 1, ..., n-1 as I32. */
    public static Tensor arange(int n) {
        Tensor t = empty(DType.I32, n);
        for (int i = 0; i < n; i++) t.storage.segment().setAtIndex(ValueLayout.JAVA_INT, i, i);
        return t;
    }

    /** Wraps existing bytes (a mapped file region, say) as a contiguous tensor without copying or owning them. */
    public static Tensor wrap(MemorySegment bytes, DType dtype, int... shape) {
        long need = Shape.numel(shape) * dtype.bytes;
        if (bytes.byteSize() < need)
            throw new IllegalArgumentException("segment of " + bytes.byteSize() + " bytes cannot hold " + dtype + Arrays.toString(shape));
        Storage s = new Storage(bytes, MemoryCategory.WEIGHTS, Device.CPU);
        return new Tensor(s, dtype, shape.clone(), Shape.contiguousStrides(shape), 0, false);
    }

    /**
     * An owning contiguous tensor over {@code storage} (how a device backend hands out its outputs); it joins
     * the current {@link MemoryScope} like any new tensor.
     */
    public static Tensor ofStorage(Storage storage, DType dtype, int... shape) {
        checkShape(shape);
        long need = Shape.numel(shape) * dtype.bytes;
        if (storage.byteSize() < need)
            throw new IllegalArgumentException("storage of " + storage.byteSize() + " bytes cannot hold " + dtype + Arrays.toString(shape));
        MemoryScope.register(storage);
        return new Tensor(storage, dtype, shape.clone(), Shape.contiguousStrides(shape), 0, true);
    }

    private static void checkShape(int[] shape) {
        for (int d : shape) if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
    }

    // ---------------------------------------------------------------- metadata

    public DType dtype() { return dtype; }
    public int[] shape() { return shape.clone(); }
    public int dim() { return shape.length; }
    /** Size of dimension {@code d} (negative counts from the end). */
    public int size(int d) { return shape[Shape.axis(d, shape.length)]; }
    public long[] strides() { return strides.clone(); }
    public long stride(int d) { return strides[Shape.axis(d, shape.length)]; }
    public long offset() { return offset; }
    public long numel() { return Shape.numel(shape); }
    public Storage storage() { return storage; }
    public Device device() { return storage.device(); }
    public MemoryCategory category() { return storage.category(); }
    /** The backing bytes (the whole storage; index with {@link #offset()} and {@link #strides()}). */
    public MemorySegment segment() { return storage.segment(); }
    /** Byte offset of element [0,...,0] in {@link #segment()}. */
    public long byteOffset() { return offset * dtype.bytes; }
    /** True when elements are laid out row-major without gaps (strides of size-1 dimensions are ignored). */
    public boolean isContiguous() {
        if (numel() <= 1) return true;
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 1) continue; // the stride of a size-1 dimension is never used
            if (strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }
    public boolean isClosed() { return storage.isClosed(); }
    /** The backend that runs this tensor's ops. */
    public Backend backend() { return Backend.of(storage.device()); }

    /** Re-labels this tensor's storage in the allocator's per-category counters; returns this. */
    public Tensor label(MemoryCategory category) {
        storage.relabel(category);
        return this;
    }

    @Override
    public void close() {
        if (owner) storage.close();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor(").append(dtype).append(Arrays.toString(shape));
        if (storage.device() != Device.CPU) sb.append(" on ").append(storage.device());
        else if (!storage.isClosed() && numel() <= 16) {
            sb.append(' ').append(Arrays.toString(toDoubleArray()));
        }
        return sb.append(')').toString();
    }

    // ---------------------------------------------------------------- element access

    /** Storage element index of the logical flat (row-major) index {@code i}. */
    public long elementIndex(long i) {
        if (i < 0 || i >= numel())
            throw new IndexOutOfBoundsException("flat index " + i + " out of " + numel() + " elements of shape " + Arrays.toString(shape));
        long e = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            long q = i / shape[d];
            e += (i - q * shape[d]) * strides[d];
            i = q;
        }
        return e;
    }

    /** Storage element index of a multi-index. */
    public long elementIndex(int... idx) {
        if (idx.length != shape.length)
            throw new IllegalArgumentException("index of rank " + idx.length + " into tensor of shape " + Arrays.toString(shape));
        long e = offset;
        for (int d = 0; d < idx.length; d++) {
            if (idx[d] < 0 || idx[d] >= shape[d])
                throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of shape " + Arrays.toString(shape));
            e += idx[d] * strides[d];
        }
        return e;
    }

    /** Reads the element at storage element index {@code e} as a double. */
    public double loadAt(long e) {
        MemorySegment s = storage.segment();
        return switch (dtype) {
            case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, e);
            case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE, e);
            case BF16 -> Half.fromBF16(s.getAtIndex(ValueLayout.JAVA_SHORT, e));
            case F16 -> Half.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT, e));
            case I8 -> s.get(ValueLayout.JAVA_BYTE, e);
            case U8 -> s.get(ValueLayout.JAVA_BYTE, e) & 0xff;
            case I32 -> s.getAtIndex(ValueLayout.JAVA_INT, e);
        };
    }

    /** Writes {@code v} (rounded/converted to the dtype) at storage element index {@code e}. */
    public void storeAt(long e, double v) {
        MemorySegment s = storage.segment();
        switch (dtype) {
            case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, e, (float) v);
            case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE, e, v);
            case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, e, Half.toBF16(v));
            case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, e, Half.toF16(v));
            case I8 -> s.set(ValueLayout.JAVA_BYTE, e, (byte) Math.max(-128, Math.min(127, Math.rint(v))));
            case U8 -> s.set(ValueLayout.JAVA_BYTE, e, (byte) Math.max(0, Math.min(255, Math.rint(v))));
            case I32 -> s.setAtIndex(ValueLayout.JAVA_INT, e, (int) Math.rint(v));
        }
    }

    /** Element at logical flat index {@code i}. */
    public double getDouble(long i) { return loadAt(elementIndex(i)); }
    /** Sets element at logical flat index {@code i}. */
    public void setDouble(long i, double v) { storeAt(elementIndex(i), v); }
    /** Element at a multi-index. */
    public double get(int... idx) { return loadAt(elementIndex(idx)); }
    /** Float element at logical flat index {@code i}. */
    public float getFloat(long i) { return (float) getDouble(i); }
    /** The single value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() on tensor of shape " + Arrays.toString(shape));
        return getDouble(0);
    }

    /** All elements in row-major order as doubles. */
    public double[] toDoubleArray() {
        double[] out = new double[Math.toIntExact(numel())];
        if (dtype == DType.F64 && isContiguous()) {
            MemorySegment.copy(storage.segment(), ValueLayout.JAVA_DOUBLE, byteOffset(), out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = getDouble(i);
        }
        return out;
    }

    /** All elements in row-major order as floats. */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numel())];
        if (dtype == DType.F32 && isContiguous()) {
            MemorySegment.copy(storage.segment(), ValueLayout.JAVA_FLOAT, byteOffset(), out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = (float) getDouble(i);
        }
        return out;
    }

    /** All elements in row-major order as ints (integer dtypes, or floats truncated). */
    public int[] toIntArray() {
        int[] out = new int[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = (int) getDouble(i);
        return out;
    }

    // ---------------------------------------------------------------- views

    private Tensor view(int[] newShape, long[] newStrides, long newOffset) {
        return new Tensor(storage, dtype, newShape, newStrides, newOffset, false);
    }

    /** Same data, new shape (one dimension may be -1); a view when strides allow, else a copy. */
    public Tensor reshape(int... newShape) {
        int[] ns = Shape.inferReshape(shape, newShape);
        long[] st = Shape.reshapeStrides(shape, strides, ns);
        if (st != null) return view(ns, st, offset);
        return contiguous().viewOwned(ns);
    }

    /** Like {@link #reshape} but refuses to copy. */
    public Tensor view(int... newShape) {
        int[] ns = Shape.inferReshape(shape, newShape);
        long[] st = Shape.reshapeStrides(shape, strides, ns);
        if (st == null)
            throw new IllegalArgumentException("view " + Arrays.toString(newShape) + " of non-contiguous tensor "
                    + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + "; use reshape()");
        return view(ns, st, offset);
    }

    // reshape of a fresh contiguous tensor that keeps ownership of its storage
    private Tensor viewOwned(int[] ns) {
        return new Tensor(storage, dtype, ns, Shape.contiguousStrides(ns), offset, owner);
    }

    /** Swaps two dimensions (view). */
    public Tensor transpose(int d0, int d1) {
        d0 = Shape.axis(d0, shape.length);
        d1 = Shape.axis(d1, shape.length);
        int[] ns = shape.clone();
        long[] st = strides.clone();
        ns[d0] = shape[d1]; ns[d1] = shape[d0];
        st[d0] = strides[d1]; st[d1] = strides[d0];
        return view(ns, st, offset);
    }

    /** The 2-D transpose (view). */
    public Tensor t() {
        if (shape.length != 2) throw new IllegalArgumentException("t() needs a 2-D tensor, got " + Arrays.toString(shape));
        return transpose(0, 1);
    }

    /** Reorders dimensions (view). */
    public Tensor permute(int... order) {
        if (order.length != shape.length)
            throw new IllegalArgumentException("permute " + Arrays.toString(order) + " of shape " + Arrays.toString(shape));
        int[] ns = new int[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int a = Shape.axis(order[i], shape.length);
            if (seen[a]) throw new IllegalArgumentException("permute repeats dimension " + a);
            seen[a] = true;
            ns[i] = shape[a];
            st[i] = strides[a];
        }
        return view(ns, st, offset);
    }

    /** Elements [start, start+length) along {@code dim} (view). */
    public Tensor narrow(int dim, int start, int length) {
        dim = Shape.axis(dim, shape.length);
        if (start < 0 || length < 0 || start + length > shape[dim])
            throw new IndexOutOfBoundsException("narrow(" + dim + ", " + start + ", " + length + ") of shape " + Arrays.toString(shape));
        int[] ns = shape.clone();
        ns[dim] = length;
        return view(ns, strides.clone(), offset + start * strides[dim]);
    }

    /** Index {@code i} along {@code dim}, dropping that dimension (view). */
    public Tensor select(int dim, int i) {
        dim = Shape.axis(dim, shape.length);
        if (i < 0 || i >= shape[dim]) throw new IndexOutOfBoundsException("select(" + dim + ", " + i + ") of shape " + Arrays.toString(shape));
        int[] ns = new int[shape.length - 1];
        long[] st = new long[shape.length - 1];
        for (int a = 0, j = 0; a < shape.length; a++) {
            if (a == dim) continue;
            ns[j] = shape[a];
            st[j++] = strides[a];
        }
        return view(ns, st, offset + i * strides[dim]);
    }

    /** Broadcasts to {@code newShape} by giving size-1 (or new leading) dimensions stride 0 (view). */
    public Tensor expand(int... newShape) {
        if (newShape.length < shape.length)
            throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        int lead = newShape.length - shape.length;
        int[] ns = newShape.clone();
        long[] st = new long[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            if (i < lead) {
                if (ns[i] < 0) throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
                st[i] = 0;
                continue;
            }
            int s = shape[i - lead];
            if (ns[i] == -1) ns[i] = s;
            if (s == ns[i]) st[i] = strides[i - lead];
            else if (s == 1) st[i] = 0;
            else throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return view(ns, st, offset);
    }

    /** Inserts a size-1 dimension at {@code dim} (view). */
    public Tensor unsqueeze(int dim) {
        dim = Shape.axis(dim, shape.length + 1);
        int[] ns = new int[shape.length + 1];
        long[] st = new long[shape.length + 1];
        for (int i = 0, j = 0; i < ns.length; i++) {
            if (i == dim) { ns[i] = 1; st[i] = (j < shape.length ? strides[j] * shape[j] : 1); continue; }
            ns[i] = shape[j];
            st[i] = strides[j++];
        }
        return view(ns, st, offset);
    }

    /** Removes a size-1 dimension (view). */
    public Tensor squeeze(int dim) {
        dim = Shape.axis(dim, shape.length);
        if (shape[dim] != 1) throw new IllegalArgumentException("squeeze(" + dim + ") of shape " + Arrays.toString(shape));
        return select(dim, 0);
    }

    /** Flattens to 1-D (view when contiguous). */
    public Tensor flatten() {
        return reshape(-1);
    }

    /**
     * This tensor if it is contiguous, starts at offset 0 and spans its whole storage; else a contiguous
     * copy. Either way the result's elements are {@code segment()} bytes [0, numel·bytes) in row-major
     * order. Close the result only if it is a different object.
     */
    public Tensor contiguous() {
        return isContiguous() && offset == 0 && storage.byteSize() == numel() * dtype.bytes ? this : copy();
    }

    /** A contiguous copy (always new storage). */
    public Tensor copy() {
        Tensor out = backend().empty(dtype, MemoryCategory.ACTIVATIONS, shape);
        out.copyFrom(this);
        return out;
    }

    /** A copy converted to {@code to} (F32↔BF16/F16 round to nearest even; to integers rounds half-even and saturates). */
    public Tensor to(DType to) {
        Tensor out = backend().empty(to, MemoryCategory.ACTIVATIONS, shape);
        out.copyFrom(this);
        return out;
    }

    // ---------------------------------------------------------------- in place

    /** Copies {@code src} into this tensor (broadcasting src; converting dtype); returns this. */
    public Tensor copyFrom(Tensor src) {
        backend().copy(Shape.broadcastTo(src, shape), this);
        return this;
    }

    /** Sets every element to {@code v}; returns this. */
    public Tensor fill(double v) {
        backend().fill(this, v);
        return this;
    }

    /** this += alpha·other (other broadcast to this shape); returns this. */
    public Tensor addInPlace(Tensor other, double alpha) {
        backend().axpy(alpha, Shape.broadcastTo(other, shape), this);
        return this;
    }

    /** this += other; returns this. */
    public Tensor addInPlace(Tensor other) {
        return addInPlace(other, 1.0);
    }

    /** this *= alpha; returns this. */
    public Tensor mulInPlace(double alpha) {
        backend().scale(this, alpha);
        return this;
    }

    // ---------------------------------------------------------------- elementwise

    private Tensor unary(UnaryOp op, double arg) { return backend().unary(op, this, arg); }
    private Tensor binary(BinaryOp op, Tensor o) { return backend().binary(op, this, o); }

    public Tensor neg() { return unary(UnaryOp.NEG, 0); }
    public Tensor exp() { return unary(UnaryOp.EXP, 0); }
    public Tensor log() { return unary(UnaryOp.LOG, 0); }
    public Tensor sqrt() { return unary(UnaryOp.SQRT, 0); }
    public Tensor rsqrt() { return unary(UnaryOp.RSQRT, 0); }
    public Tensor abs() { return unary(UnaryOp.ABS, 0); }
    public Tensor tanh() { return unary(UnaryOp.TANH, 0); }
    public Tensor sigmoid() { return unary(UnaryOp.SIGMOID, 0); }
    public Tensor silu() { return unary(UnaryOp.SILU, 0); }
    public Tensor relu() { return unary(UnaryOp.RELU, 0); }
    public Tensor square() { return unary(UnaryOp.SQUARE, 0); }
    public Tensor reciprocal() { return unary(UnaryOp.RECIPROCAL, 0); }
    public Tensor sign() { return unary(UnaryOp.SIGN, 0); }
    /** Rounds half to even. */
    public Tensor round() { return unary(UnaryOp.ROUND, 0); }
    public Tensor add(double c) { return unary(UnaryOp.ADD_SCALAR, c); }
    public Tensor mul(double c) { return unary(UnaryOp.MUL_SCALAR, c); }
    public Tensor pow(double p) { return unary(UnaryOp.POW_SCALAR, p); }
    /** max(this, lo) elementwise. */
    public Tensor clampMin(double lo) { return unary(UnaryOp.CLAMP_MIN, lo); }
    /** min(this, hi) elementwise. */
    public Tensor clampMax(double hi) { return unary(UnaryOp.CLAMP_MAX, hi); }
    public Tensor clamp(double lo, double hi) {
        try (Tensor t = clampMin(lo)) { return t.clampMax(hi); }
    }

    public Tensor add(Tensor o) { return binary(BinaryOp.ADD, o); }
    public Tensor sub(Tensor o) { return binary(BinaryOp.SUB, o); }
    public Tensor mul(Tensor o) { return binary(BinaryOp.MUL, o); }
    public Tensor div(Tensor o) { return binary(BinaryOp.DIV, o); }
    public Tensor maximum(Tensor o) { return binary(BinaryOp.MAX, o); }
    public Tensor minimum(Tensor o) { return binary(BinaryOp.MIN, o); }
    /** 1.0 where this &gt; o, else 0.0 (same dtype). */
    public Tensor gt(Tensor o) { return binary(BinaryOp.GT, o); }

    // ---------------------------------------------------------------- reductions

    /** Sum of all elements (0-d tensor). */
    public Tensor sum() { return reduceAll(ReduceOp.SUM); }
    /** Mean of all elements (0-d tensor). */
    public Tensor mean() { return reduceAll(ReduceOp.MEAN); }

    private Tensor reduceAll(ReduceOp op) {
        try (Tensor flat = flatten()) { // a copy when this is not viewable as 1-D; closing a view is a no-op
            return backend().reduce(op, flat, 0, false);
        }
    }
    public Tensor sum(int dim, boolean keepdim) { return backend().reduce(ReduceOp.SUM, this, dim, keepdim); }
    public Tensor mean(int dim, boolean keepdim) { return backend().reduce(ReduceOp.MEAN, this, dim, keepdim); }
    public Tensor max(int dim, boolean keepdim) { return backend().reduce(ReduceOp.MAX, this, dim, keepdim); }
    public Tensor min(int dim, boolean keepdim) { return backend().reduce(ReduceOp.MIN, this, dim, keepdim); }
    /** Index of the maximum along {@code dim} as I32 (first one on ties). */
    public Tensor argmax(int dim, boolean keepdim) { return backend().reduce(ReduceOp.ARGMAX, this, dim, keepdim); }
    /** Largest absolute value over all elements. */
    public double absMax() {
        try (Tensor a = abs(); Tensor f = a.flatten(); Tensor m = backend().reduce(ReduceOp.MAX, f, 0, false)) {
            return m.item();
        }
    }
    /** Sum over dimensions so the result has shape {@code target} (undoes broadcasting; used by backward). */
    public Tensor sumTo(int... target) { return backend().sumTo(this, target); }

    public Tensor softmax(int dim) { return backend().softmax(this, dim, false); }
    public Tensor logSoftmax(int dim) { return backend().softmax(this, dim, true); }

    // ---------------------------------------------------------------- linear algebra and indexing

    /**
     * Matrix product with NumPy semantics for 2-D and batched operands ([..., m, k]·[..., k, n], batch
     * dimensions broadcast). Transposed views are read in place, without a copy.
     */
    public Tensor matmul(Tensor o) { return backend().matmul(this, o); }

    /** Rows (or slices along {@code dim}) picked by an I32 index tensor: out.shape = idx.shape along dim. */
    public Tensor indexSelect(int dim, Tensor idx) { return backend().indexSelect(this, dim, idx); }

    /** out[i][j] = this[i][idx[i][j]] for dim=1 (NumPy take_along_axis; idx same rank). */
    public Tensor gather(int dim, Tensor idx) { return backend().gather(this, dim, idx); }

    /** A copy of this with src scattered and added at idx along dim (inverse of {@link #gather}). */
    public Tensor scatterAdd(int dim, Tensor idx, Tensor src) { return backend().scatterAdd(this, dim, idx, src); }

    /** Adds rows of {@code src} into rows {@code idx} of this along dim 0, in place (embedding backward). */
    public Tensor indexAddInPlace(Tensor idx, Tensor src) {
        backend().indexAdd(this, idx, src);
        return this;
    }

    /** Concatenates along {@code dim}. */
    public static Tensor cat(int dim, Tensor... ts) {
        if (ts.length == 0) throw new IllegalArgumentException("cat of no tensors");
        int d = Shape.axis(dim, ts[0].dim());
        int[] s = ts[0].shape();
        int total = 0;
        for (Tensor t : ts) {
            if (t.dim() != s.length || t.dtype != ts[0].dtype)
                throw new IllegalArgumentException("cat: " + t.dtype + Arrays.toString(t.shape) + " vs " + ts[0].dtype + Arrays.toString(s));
            for (int a = 0; a < s.length; a++)
                if (a != d && t.shape[a] != s[a])
                    throw new IllegalArgumentException("cat along " + d + ": shapes " + Arrays.toString(t.shape) + " and " + Arrays.toString(s));
            total += t.shape[d];
        }
        s[d] = total;
        Tensor out = empty(ts[0].dtype, s);
        int at = 0;
        for (Tensor t : ts) {
            out.narrow(d, at, t.shape[d]).copyFrom(t);
            at += t.shape[d];
        }
        return out;
    }

    /** True if shapes match and every element is within {@code atol + rtol·|other|}. */
    public boolean allClose(Tensor other, double rtol, double atol) {
        if (!Arrays.equals(shape, other.shape)) return false;
        for (long i = 0, n = numel(); i < n; i++) {
            double a = getDouble(i), b = other.getDouble(i);
            if (Double.isNaN(a) || Double.isNaN(b)) return false;
            if (Math.abs(a - b) > atol + rtol * Math.abs(b)) return false;
        }
        return true;
    }
}
