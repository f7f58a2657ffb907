package io.lowbit.tensor;

import io.lowbit.tensor.cpu.CpuBackend;
import io.lowbit.tensor.cuda.CudaBackend;

/**
 * The seam between tensor ops and the hardware that runs them. {@link Tensor}'s methods validate shapes
 * and dtypes and call the backend of the tensor's device; a backend never sees a device it does not own.
 * All outputs are new contiguous tensors unless the method writes into {@code dst}.
 */
public interface Backend {
    /** The backend for a device (CPU always exists; CUDA only after a successful probe). */
    static Backend of(Device d) {
        if (d == Device.CPU) return CpuBackend.INSTANCE;
        if (d == Device.CUDA) return CudaBackend.instance(); // throws with the probe's reason when absent
        throw new IllegalStateException("no backend for device " + d + " on this machine");
    }

    /** A new uninitialized contiguous tensor in this backend's memory (what copy() and to() allocate). */
    default Tensor empty(DType dtype, MemoryCategory category, int... shape) {
        return Tensor.empty(dtype, category, shape);
    }

    /** Short name for logs ("cpu", "cuda:0"). */
    String name();

    /** dst[...] = src[...] (same shape; dtype converted). */
    void copy(Tensor src, Tensor dst);

    /** Every element of dst = v. */
    void fill(Tensor dst, double v);

    /** dst += alpha·x (same shape). */
    void axpy(double alpha, Tensor x, Tensor dst);

    /** dst *= alpha. */
    void scale(Tensor dst, double alpha);

    Tensor unary(UnaryOp op, Tensor x, double arg);

    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepdim);

    /** Sums x down to {@code shape} (the reverse of broadcasting). */
    Tensor sumTo(Tensor x, int[] shape);

    Tensor softmax(Tensor x, int dim, boolean log);

    Tensor matmul(Tensor a, Tensor b);

    Tensor indexSelect(Tensor x, int dim, Tensor idx);

    Tensor gather(Tensor x, int dim, Tensor idx);

    Tensor scatterAdd(Tensor x, int dim, Tensor idx, Tensor src);

    /** dst[idx[i], ...] += src[i, ...] along dim 0. */
    void indexAdd(Tensor dst, Tensor idx, Tensor src);
}
