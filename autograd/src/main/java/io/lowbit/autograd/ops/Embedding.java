package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * Row lookup out[..., :] = W[ids[...], :] for a table W [V, D] and I32 ids of any shape.
 * ∂/∂W accumulates each gradient row into the row it came from (rows of repeated ids add up); the ids
 * are copied at forward, so the caller's id tensor may be closed before backward.
 */
final class Embedding extends Function {
    private final Tensor ids;
    private int[] idCopy;
    private int rows, dim;

    Embedding(Tensor ids) {
        if (ids.dtype() != DType.I32) throw new IllegalArgumentException("embedding ids must be I32, got " + ids.dtype());
        this.ids = ids;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor w = in[0];
        if (w.dim() != 2) throw new IllegalArgumentException("embedding table must be [V, D], got " + Arrays.toString(w.shape()));
        idCopy = ids.toIntArray();
        rows = w.size(0);
        dim = w.size(1);
        for (int i = 0; i < idCopy.length; i++)
            if (idCopy[i] < 0 || idCopy[i] >= w.size(0))
                throw new IndexOutOfBoundsException("embedding: id " + idCopy[i] + " at position " + i + " outside [0, " + w.size(0) + ")");
        return w.indexSelect(0, ids);
    }

    @Override
    protected Tensor[] backward(Tensor g0) {
        int d = dim;
        Tensor gw = Tensor.zeros(g0.dtype(), rows, d);
        Tensor g = g0.contiguous();
        var seg = g.segment();
        var out = gw.segment();
        boolean f32 = g.dtype() == DType.F32;
        for (int i = 0; i < idCopy.length; i++) {
            long src = (long) i * d, dst = (long) idCopy[i] * d;
            if (f32) Simd.axpy(1f, seg, src, out, dst, d);
            else for (int j = 0; j < d; j++) gw.setDouble(dst + j, gw.getDouble(dst + j) + g.getDouble(src + j));
        }
        if (g != g0) g.close();
        return new Tensor[] {gw};
    }
}
