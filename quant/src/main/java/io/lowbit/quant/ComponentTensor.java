package io.lowbit.quant;

import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * What every stored {@link QuantizedTensor} format shares: its storage is exactly its {@link #components()}
 * (so the byte count and closing follow from them), a tile is dequantized row by row, and the fused GEMV is
 * checked before its kernel runs. A format supplies its components, one row decoder and one GEMV kernel.
 */
public abstract class ComponentTensor implements QuantizedTensor {
    private boolean closed;

    /** Writes ŵ[r, c0:c1] as floats to {@code dst} from float index {@code dstOff} (arguments already checked). */
    protected abstract void decodeRow(int r, int c0, int c1, MemorySegment dst, long dstOff);

    /** y = W·x (lengths already checked). */
    protected abstract void gemvKernel(float[] x, float[] y);

    /** Σ over the components of numel · element size. */
    @Override
    public final long bytes() {
        long b = 0;
        for (Tensor t : components().values()) b += t.numel() * t.dtype().bytes;
        return b;
    }

    @Override
    public final void dequantizeTile(int r0, int r1, int c0, int c1, MemorySegment dst, long dstOff, int ld) {
        Components.checkTile(this, r0, r1, c0, c1, ld);
        for (int r = r0; r < r1; r++) decodeRow(r, c0, c1, dst, dstOff + (long) (r - r0) * ld);
    }

    @Override
    public final void gemv(float[] x, float[] y) {
        Components.checkGemv(this, x, y);
        gemvKernel(x, y);
    }

    /** Closes every component (once). */
    @Override
    public final void close() {
        if (closed) return;
        closed = true;
        for (Tensor t : components().values()) t.close();
    }
}
