package io.lowbit.tensor.cuda;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * The fused LLaMA and quantization kernels the {@link io.lowbit.tensor.Backend} seam does not name:
 * RMSNorm, RoPE, cross-entropy, embedding lookup, NF4 and b-bit integer dequantization, fake quantization
 * with a straight-through estimator. Each takes and returns device tensors (inputs on the CPU are
 * uploaded first) and validates shapes and dtypes on the host. The math of each is written next to its
 * kernel in {@link KernelSource}.
 */
public final class CudaOps {
    private final CudaBackend be;

    /** Ops of the given backend (usually {@link CudaBackend#instance()}). */
    public CudaOps(CudaBackend be) {
        this.be = be;
    }

    /** RMSNorm output and the per-row 1/rms kept for backward. */
    public record RmsNorm(Tensor y, Tensor rstd) implements AutoCloseable {
        @Override
        public void close() {
            y.close();
            rstd.close();
        }
    }

    /** y = x / sqrt(mean(x²) + eps) · w over the last dimension; rstd has x's shape without it. */
    public RmsNorm rmsNorm(Tensor x, Tensor w, double eps) {
        CudaBackend.computeDType("rmsNorm", x);
        int n = x.size(-1);
        if (w.dim() != 1 || w.size(0) != n || w.dtype() != x.dtype())
            throw new IllegalArgumentException("rmsNorm: weight " + w.dtype() + Arrays.toString(w.shape()) + " for input " + x.dtype() + Arrays.toString(x.shape()));
        Tensor xc = be.contiguous(be.onDevice(x)), wc = be.contiguous(be.onDevice(w));
        try {
            int[] rs = Arrays.copyOf(x.shape(), x.dim() - 1);
            Tensor y = be.empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
            Tensor rstd = be.empty(x.dtype(), MemoryCategory.ACTIVATIONS, rs);
            be.kernels.launchRows(x.dtype(), "rms_norm", rstd.numel(), CudaBackend.ptr(xc, "rmsNorm"), CudaBackend.ptr(wc, "rmsNorm"),
                    CudaBackend.ptr(y, "rmsNorm"), CudaBackend.ptr(rstd, "rmsNorm"), (long) n, eps);
            return new RmsNorm(y, rstd);
        } finally {
            closeTemp(xc, x);
            closeTemp(wc, w);
        }
    }

    /**
     * Rotary position embedding of x [rows, d] (d even) with one position per row, rotate-half pairing
     * (j, j + d/2) and angle pos·theta^(-2j/d); {@code inverse} rotates backwards (RoPE's backward pass).
     */
    public Tensor rope(Tensor x, Tensor positions, double theta, boolean inverse) {
        CudaBackend.computeDType("rope", x);
        if (x.dim() != 2 || x.size(1) % 2 != 0 || positions.dtype() != DType.I32 || positions.dim() != 1 || positions.size(0) != x.size(0))
            throw new IllegalArgumentException("rope: input " + Arrays.toString(x.shape()) + " (needs [rows, even d]) with positions "
                    + positions.dtype() + Arrays.toString(positions.shape()) + " (needs I32 [rows])");
        Tensor xc = be.contiguous(be.onDevice(x)), pc = be.contiguous(be.onDevice(positions));
        try {
            Tensor y = be.empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
            be.kernels.launch(x.dtype(), "rope", (long) x.size(0) * (x.size(1) / 2), CudaBackend.ptr(xc, "rope"), CudaBackend.ptr(pc, "rope"),
                    CudaBackend.ptr(y, "rope"), (long) x.size(0), (long) x.size(1), theta, inverse ? 1 : 0);
            return y;
        } finally {
            closeTemp(xc, x);
            closeTemp(pc, positions);
        }
    }

    /** Cross-entropy per row and, optionally, its gradient scale·(softmax − onehot). */
    public record CrossEntropy(Tensor loss, Tensor grad) implements AutoCloseable {
        @Override
        public void close() {
            loss.close();
            if (grad != null) grad.close();
        }
    }

    /**
     * Per-row loss logsumexp(z) − z[target] of logits [rows, vocab] (rows with a negative target are
     * ignored: loss 0, gradient 0); with {@code withGrad}, also dz = gradScale·(softmax(z) − onehot).
     */
    public CrossEntropy crossEntropy(Tensor logits, Tensor targets, boolean withGrad, double gradScale) {
        CudaBackend.computeDType("crossEntropy", logits);
        if (logits.dim() != 2 || targets.dtype() != DType.I32 || targets.dim() != 1 || targets.size(0) != logits.size(0))
            throw new IllegalArgumentException("crossEntropy: logits " + Arrays.toString(logits.shape()) + " with targets "
                    + targets.dtype() + Arrays.toString(targets.shape()) + " (needs I32 [rows])");
        int v = logits.size(1);
        if (v == 0) throw new IllegalArgumentException("crossEntropy over an empty vocabulary: logits " + Arrays.toString(logits.shape()));
        int[] t = be.hostIndexAllowingNegative(targets, v, "crossEntropy");
        Tensor zc = be.contiguous(be.onDevice(logits));
        try (Tensor ht = Tensor.of(t, t.length); Tensor dt = be.toDevice(ht, MemoryCategory.SCRATCH)) {
            Tensor loss = be.empty(logits.dtype(), MemoryCategory.ACTIVATIONS, logits.size(0));
            Tensor grad = withGrad ? be.empty(logits.dtype(), MemoryCategory.ACTIVATIONS, logits.shape()) : null;
            be.kernels.launchRows(logits.dtype(), "cross_entropy", logits.size(0), CudaBackend.ptr(zc, "crossEntropy"), CudaBackend.ptr(dt, "crossEntropy"),
                    CudaBackend.ptr(loss, "crossEntropy"), grad == null ? KernelCache.NULL : CudaBackend.ptr(grad, "crossEntropy"), (long) v, gradScale);
            return new CrossEntropy(loss, grad);
        } finally {
            closeTemp(zc, logits);
        }
    }

    /** Embedding lookup: rows {@code ids} of {@code table} [vocab, dim] (ids of any shape; out ids.shape + [dim]). */
    public Tensor embedding(Tensor table, Tensor ids) {
        if (table.dim() != 2) throw new IllegalArgumentException("embedding table must be [vocab, dim], got " + Arrays.toString(table.shape()));
        return be.indexSelect(table, 0, ids);
    }

    /**
     * NF4 dequantization of {@code n} values: w[i] = level[code(i)]·absmax[i / blockSize] (two codes per
     * U8 byte, the first in the high nibble), as {@code out} (F32 or F64) of shape {@code shape}.
     */
    public Tensor nf4Dequant(Tensor codes, Tensor absmax, int blockSize, DType out, int... shape) {
        long n = io.lowbit.tensor.Shape.numel(shape);
        if (codes.dtype() != DType.U8 || codes.numel() < (n + 1) / 2)
            throw new IllegalArgumentException("nf4Dequant: codes " + codes.dtype() + Arrays.toString(codes.shape()) + " cannot hold " + n + " 4-bit values");
        if (blockSize <= 0 || absmax.dtype() != DType.F32 || absmax.numel() < (n + blockSize - 1) / blockSize)
            throw new IllegalArgumentException("nf4Dequant: absmax " + absmax.dtype() + Arrays.toString(absmax.shape()) + " for " + n + " values in blocks of " + blockSize);
        Tensor c = be.contiguous(be.onDevice(codes)), a = be.contiguous(be.onDevice(absmax));
        try {
            Tensor w = be.empty(out, MemoryCategory.SCRATCH, shape);
            be.kernels.launch(out, "nf4_dequant", n, CudaBackend.ptr(c, "nf4Dequant"), CudaBackend.ptr(a, "nf4Dequant"), (long) blockSize,
                    CudaBackend.ptr(w, "nf4Dequant"), n);
            return w;
        } finally {
            closeTemp(c, codes);
            closeTemp(a, absmax);
        }
    }

    /**
     * b-bit (1..8) integer dequantization: element i is bits [i·b, i·b + b) of the LSB-first U8 stream
     * {@code packed}; w[i] = (q − zero[g])·scale[g] with g = i / group.
     */
    public Tensor intDequant(Tensor packed, int bits, Tensor scale, Tensor zero, int group, DType out, int... shape) {
        long n = io.lowbit.tensor.Shape.numel(shape);
        if (bits < 1 || bits > 8) throw new IllegalArgumentException("intDequant: bits must be 1..8, got " + bits);
        if (packed.dtype() != DType.U8 || packed.numel() * 8 < n * bits)
            throw new IllegalArgumentException("intDequant: packed " + packed.dtype() + Arrays.toString(packed.shape()) + " cannot hold " + n + " " + bits + "-bit values");
        long groups = group <= 0 ? -1 : (n + group - 1) / group;
        if (groups < 0 || scale.dtype() != DType.F32 || zero.dtype() != DType.F32 || scale.numel() < groups || zero.numel() < groups)
            throw new IllegalArgumentException("intDequant: scale " + Arrays.toString(scale.shape()) + " / zero " + Arrays.toString(zero.shape())
                    + " (F32) do not cover " + n + " values in groups of " + group);
        Tensor p = be.contiguous(be.onDevice(packed)), s = be.contiguous(be.onDevice(scale)), z = be.contiguous(be.onDevice(zero));
        try {
            Tensor w = be.empty(out, MemoryCategory.SCRATCH, shape);
            be.kernels.launch(out, "intb_dequant", n, CudaBackend.ptr(p, "intDequant"), bits, CudaBackend.ptr(s, "intDequant"),
                    CudaBackend.ptr(z, "intDequant"), (long) group, CudaBackend.ptr(w, "intDequant"), n);
            return w;
        } finally {
            closeTemp(p, packed);
            closeTemp(s, scale);
            closeTemp(z, zero);
        }
    }

    /** Fake-quantized values and the straight-through mask (1 inside the grid, 0 where clipped). */
    public record FakeQuant(Tensor y, Tensor mask) implements AutoCloseable {
        @Override
        public void close() {
            y.close();
            mask.close();
        }
    }

    /** y = (clamp(rint(x/s) + z, qmin, qmax) − z)·s with per-group F32 scale and zero (g = flat index / group). */
    public FakeQuant fakeQuant(Tensor x, Tensor scale, Tensor zero, int group, double qmin, double qmax) {
        CudaBackend.computeDType("fakeQuant", x);
        long n = x.numel();
        long groups = group <= 0 ? -1 : (n + group - 1) / group;
        if (groups < 0 || scale.dtype() != DType.F32 || zero.dtype() != DType.F32 || scale.numel() < groups || zero.numel() < groups || qmin > qmax)
            throw new IllegalArgumentException("fakeQuant: scale " + Arrays.toString(scale.shape()) + " / zero " + Arrays.toString(zero.shape())
                    + " (F32) for " + n + " values in groups of " + group + ", grid [" + qmin + ", " + qmax + "]");
        Tensor xc = be.contiguous(be.onDevice(x)), s = be.contiguous(be.onDevice(scale)), z = be.contiguous(be.onDevice(zero));
        try {
            Tensor y = be.empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
            Tensor mask = be.empty(x.dtype(), MemoryCategory.ACTIVATIONS, x.shape());
            be.kernels.launch(x.dtype(), "fake_quant", n, CudaBackend.ptr(xc, "fakeQuant"), CudaBackend.ptr(s, "fakeQuant"),
                    CudaBackend.ptr(z, "fakeQuant"), (long) group, qmin, qmax, CudaBackend.ptr(y, "fakeQuant"), CudaBackend.ptr(mask, "fakeQuant"), n);
            return new FakeQuant(y, mask);
        } finally {
            closeTemp(xc, x);
            closeTemp(s, scale);
            closeTemp(z, zero);
        }
    }

    /** The straight-through backward: dx = dy·mask. */
    public Tensor fakeQuantBackward(Tensor dy, Tensor mask) {
        CudaBackend.computeDType("fakeQuantBackward", dy);
        CudaBackend.sameShape("fakeQuantBackward", dy, mask);
        if (mask.dtype() != dy.dtype()) throw new IllegalArgumentException("fakeQuantBackward: mask " + mask.dtype() + " vs gradient " + dy.dtype());
        Tensor g = be.contiguous(be.onDevice(dy)), m = be.contiguous(be.onDevice(mask));
        try {
            Tensor dx = be.empty(dy.dtype(), MemoryCategory.GRADIENTS, dy.shape());
            be.kernels.launch(dy.dtype(), "fake_quant_backward", dy.numel(), CudaBackend.ptr(g, "fakeQuantBackward"),
                    CudaBackend.ptr(m, "fakeQuantBackward"), CudaBackend.ptr(dx, "fakeQuantBackward"), dy.numel());
            return dx;
        } finally {
            closeTemp(g, dy);
            closeTemp(m, mask);
        }
    }

    // closes t when it is a temporary made from orig (an upload or a contiguous copy, possibly both)
    private static void closeTemp(Tensor t, Tensor orig) {
        if (t != orig) t.close();
    }
}
