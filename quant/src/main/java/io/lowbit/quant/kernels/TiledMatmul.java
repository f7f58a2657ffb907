package io.lowbit.quant.kernels;

import io.lowbit.quant.QuantizedTensor;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.cpu.Sgemm;
import java.lang.foreign.MemorySegment;

/**
 * Batched products with a quantized weight W [out, in] that never hold more than one cache-sized tile of
 * dense W per worker: each worker owns one {@link MemoryCategory#SCRATCH} buffer of at most
 * {@link #TILE_FLOATS} floats, dequantizes a tile into it ({@link QuantizedTensor#dequantizeTile}) and
 * multiplies with {@link Sgemm}. Tiles of different workers write disjoint output columns.
 */
public final class TiledMatmul {
    /** Floats per dequantized tile (256 KiB, about one L2). */
    public static final int TILE_FLOATS = 1 << 16;

    private TiledMatmul() {}

    /**
     * Y[n, out] = X[n, in]·Wᵀ. Offsets and strides in floats; X rows are {@code in} apart, Y rows {@code out}
     * apart. Tiles are blocks of output rows, in parallel.
     */
    public static void forward(QuantizedTensor w, MemorySegment x, long xOff, int n, MemorySegment y, long yOff) {
        int out = w.rows(), in = w.cols();
        int tileRows = Math.max(1, Math.min(out, TILE_FLOATS / in));
        int tiles = (out + tileRows - 1) / tileRows;
        Parallel.range(tiles, 1, (lo, hi) -> {
            try (Tensor scratch = Tensor.empty(DType.F32, MemoryCategory.SCRATCH, tileRows, in)) {
                MemorySegment s = scratch.segment();
                for (long t = lo; t < hi; t++) {
                    int r0 = (int) t * tileRows, r1 = Math.min(out, r0 + tileRows);
                    w.dequantizeTile(r0, r1, 0, in, s, 0, in);
                    Sgemm.sgemm(false, true, n, r1 - r0, in, 1f, x, xOff, in, s, 0, in, 0f, y, yOff + r0, out);
                }
            }
        });
    }

    /**
     * dX[n, in] = G[n, out]·W (the input gradient of y = x·Wᵀ; no weight gradient). Tiles are blocks of
     * input columns (all output rows), in parallel.
     */
    public static void backwardInput(QuantizedTensor w, MemorySegment g, long gOff, int n, MemorySegment dx, long dxOff) {
        int out = w.rows(), in = w.cols();
        int tileCols = Math.max(1, Math.min(in, TILE_FLOATS / out));
        if (tileCols >= 8 && tileCols < in) tileCols &= ~7; // keep tiles 8-aligned so rows decode with vectors
        int tc = tileCols;
        int tiles = (in + tc - 1) / tc;
        Parallel.range(tiles, 1, (lo, hi) -> {
            try (Tensor scratch = Tensor.empty(DType.F32, MemoryCategory.SCRATCH, out, tc)) {
                MemorySegment s = scratch.segment();
                for (long t = lo; t < hi; t++) {
                    int c0 = (int) t * tc, c1 = Math.min(in, c0 + tc);
                    w.dequantizeTile(0, out, c0, c1, s, 0, c1 - c0);
                    Sgemm.sgemm(false, false, n, c1 - c0, out, 1f, g, gOff, out, s, 0, c1 - c0, 0f, dx, dxOff + c0, in);
                }
            }
        });
    }
}
