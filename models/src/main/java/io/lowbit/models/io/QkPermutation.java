package io.lowbit.models.io;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;

import java.lang.foreign.MemorySegment;


/**
 * The row permutation between Meta's interleaved RoPE layout and Hugging Face's rotate-half layout of the
 * q and k projections. Hugging Face's conversion script applies, per matrix with {@code n} heads,
 * {@code permute(w) = w.view(n, head_dim/2, 2, in).transpose(1, 2).reshape(n·head_dim, in)}: within each
 * head, Meta row 2j+i becomes HF row i·head_dim/2 + j (i ∈ {0, 1}, j &lt; head_dim/2).
 */
public final class QkPermutation {
    private QkPermutation() {}

    /** Meta (interleaved) → HF (rotate-half) rows; a new F32 tensor in category WEIGHTS. */
    public static Tensor metaToHf(Tensor w, int heads) {
        return permute(w, heads, true);
    }

    /** HF (rotate-half) → Meta (interleaved) rows; a new F32 tensor in category WEIGHTS. */
    public static Tensor hfToMeta(Tensor w, int heads) {
        return permute(w, heads, false);
    }

    private static Tensor permute(Tensor w, int heads, boolean toHf) {
        if (w.dim() != 2 || w.dtype() != DType.F32 || !w.isContiguous())
            throw new IllegalArgumentException("q/k permutation needs a contiguous F32 matrix, got " + w);
        int rows = w.size(0), cols = w.size(1);
        if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
            throw new IllegalArgumentException("cannot split " + rows + " rows into " + heads + " heads of even width");
        int hd = rows / heads, half = hd / 2;
        Tensor out = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, rows, cols);
        MemorySegment src = w.segment(), dst = out.segment();
        long srcBase = w.byteOffset(), rowBytes = 4L * cols;
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < half; j++)
                for (int i = 0; i < 2; i++) {
                    long meta = (long) h * hd + 2 * j + i, hf = (long) h * hd + (long) i * half + j;
                    long from = toHf ? meta : hf, to = toHf ? hf : meta;
                    MemorySegment.copy(src, srcBase + from * rowBytes, dst, to * rowBytes, rowBytes);
                }
        return out;
    }

}
