package io.lowbit.tensor;

import io.lowbit.tensor.cpu.CpuBackend;

/**
 * The seam between tensor ops and the hardware that runs them. {@link Tensor}'s methods validate shapes
 * and dtypes and call the backend of the tensor's device; a backend never sees a device it does not own.
 * All outputs are new contiguous tensors unless the method writes into {@code dst}.
 */
public interface Backend {
    /** The backend for a device (CPU always exists; CUDA only after a successful probe). */
    static Backend of(Device d) {
        if (d == Device.CPU) return CpuBackend.INSTANCE;
        throw new IllegalStateException("no backend for device " + d + " on this machine");
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
