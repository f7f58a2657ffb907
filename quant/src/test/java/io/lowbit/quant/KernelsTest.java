package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.gptq.Hessian;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.quant.nf4.Nf4;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.stream.IntStream;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Fused GEMV, tile decoding and the tiled matmuls against dequantize-then-multiply reference loops. */
@ExtendWith(NoLeaks.class)
class KernelsTest {
    /** Every storage layout the kernels have a path for. */
    static Map<String, Function<Tensor, QuantizedTensor>> formats() {
        Map<String, Function<Tensor, QuantizedTensor>> m = new LinkedHashMap<>();
        for (int bits : new int[] {2, 3, 4, 8}) {
            m.put("rtn" + bits + "-channel-asym", w -> new AffineQuantizer(AffineSpec.perChannel(bits, false)).quantize(w));
            m.put("rtn" + bits + "-g32-sym", w -> new AffineQuantizer(AffineSpec.perGroup(bits, true, 32)).quantize(w));
        }
        // several table groups per row on the lookup path (group = a multiple of the 2-/3-bit step)
        m.put("rtn2-g64-asym", w -> new AffineQuantizer(AffineSpec.perGroup(2, false, 64)).quantize(w));
        m.put("rtn3-g128-asym", w -> new AffineQuantizer(AffineSpec.perGroup(3, false, 128)).quantize(w));
        // the wide 4-bit loop (128-code units): one group per unit (bulk-copied parameters), and two units per group
        m.put("rtn4-g128-asym", w -> new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w));
        m.put("rtn4-g256-sym", w -> new AffineQuantizer(AffineSpec.perGroup(4, true, 256)).quantize(w));
        m.put("rtn4-tensor-sym", w -> new AffineQuantizer(AffineSpec.perTensor(4, true)).quantize(w));
        m.put("rtn4-g5-asym", w -> new AffineQuantizer(AffineSpec.perGroup(4, false, 5)).quantize(w)); // groups not 8-aligned
        m.put("nf4-dq", w -> new Nf4Quantizer().quantize(w));
        m.put("nf4", w -> new Nf4Quantizer(64, false, 256).quantize(w));
        m.put("gptq3-g32-actorder", w -> {
            int in = w.size(1);
            Hessian h = new Hessian(in);
            h.addRows(Fixtures.gaussian(99, 48 * in), 48);
            return Gptq.quantize(w, h.matrix(), Gptq.Config.defaults(3).withGroupSize(32).withActOrder(true));
        });
        return m;
    }

    @Test
    void fusedGemvEqualsDequantizeThenMatvecOnOddShapes() {
        int[] colsList = java.util.stream.IntStream.concat(Arrays.stream(Fixtures.ODD), IntStream.of(64, 96, 160, 384, 512)).toArray(); // 64k: NF4 lookup path (whole 64-blocks per row: one block per iteration), rows starting mid-block; 384: 3 groups of 128; 512: wide 4-bit loop with g128 and g256
        for (int rows : new int[] {1, 7, 33})
            for (int cols : colsList)
                try (Tensor w = Fixtures.weight(rows * 1000L + cols, rows, cols)) {
                    float[] x = Fixtures.gaussian(cols, cols);
                    for (var f : formats().entrySet()) {
                        try (QuantizedTensor q = f.getValue().apply(w)) {
                            float[] d = Fixtures.dense(q);
                            double[] ref = Fixtures.matvec(d, rows, cols, x), mag = Fixtures.absMatvec(d, rows, cols, x);
                            float[] y = new float[rows];
                            q.gemv(x, y);
                            for (int r = 0; r < rows; r++)
                                assertEquals(ref[r], y[r], 1e-5 * mag[r] + 1e-30, f.getKey() + " [" + rows + ", " + cols + "] row " + r);
                        }
                    }
                }
    }

    @Test
    void tilesEqualTheDequantizedWeightBitExactly() {
        int rows = 13, cols = 129;
        try (Tensor w = Fixtures.weight(5, rows, cols)) {
            for (var f : formats().entrySet()) {
                try (QuantizedTensor q = f.getValue().apply(w);
                     Tensor tile = Tensor.zeros(DType.F32, MemoryCategory.SCRATCH, 8, 100)) {
                    float[] d = Fixtures.dense(q);
                    // the dequantized weight is the format's formula, element by element
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++) {
                            float ref;
                            if (q instanceof AffineQuantizedTensor a) ref = a.scale(r, a.groupOf(c)) * (float) (a.code(r, c) - a.zero(r, a.groupOf(c)));
                            else {
                                Nf4Tensor n = (Nf4Tensor) q;
                                long e = (long) r * cols + c;
                                ref = Nf4.level(n.code(e)) * n.absmax((int) (e / n.blockSize()));
                            }
                            assertEquals(ref, d[r * cols + c], 0f, f.getKey() + " element (" + r + ", " + c + ")");
                        }
                    // also the reference: every element decoded one at a time through 1×1 tiles
                    for (int r = 0; r < rows; r += 5)
                        for (int c = 0; c < cols; c += 3) {
                            q.dequantizeTile(r, r + 1, c, c + 1, tile.segment(), 0, 1);
                            assertEquals(d[r * cols + c], tile.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 0), 0f, f.getKey());
                        }
                    int r0 = 3, r1 = 10, c0 = 5, c1 = 102, ld = 100;
                    q.dequantizeTile(r0, r1, c0, c1, tile.segment(), 3, ld);
                    for (int r = r0; r < r1; r++)
                        for (int c = c0; c < c1; c++)
                            assertEquals(d[r * cols + c], tile.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 3 + (long) (r - r0) * ld + (c - c0)), 0f,
                                    f.getKey() + " tile element (" + r + ", " + c + ")");
                    assertThrows(IndexOutOfBoundsException.class, () -> q.dequantizeTile(0, rows + 1, 0, 1, tile.segment(), 0, 1));
                }
            }
        }
    }

    @Test
    void tiledForwardAndInputGradientMatchReferenceLoops() {
        // [129, 1031] spans several 64K-float tiles in both directions; [7, 33] is one tile
        int[][] shapes = {{7, 33}, {129, 1031}};
        for (int[] s : shapes) {
            int rows = s[0], cols = s[1], n = 5;
            assertEquals(s == shapes[1], (long) rows * cols > TiledMatmul.TILE_FLOATS);
            try (Tensor w = Fixtures.weight(77 + rows, rows, cols)) {
                float[] x = Fixtures.gaussian(1, n * cols), g = Fixtures.gaussian(2, n * rows);
                for (String name : new String[] {"rtn3-g32-sym", "rtn4-channel-asym", "nf4-dq", "gptq3-g32-actorder"}) {
                    try (QuantizedTensor q = formats().get(name).apply(w);
                         Tensor xt = Tensor.of(x, n, cols); Tensor gt = Tensor.of(g, n, rows);
                         Tensor y = Tensor.empty(DType.F32, n, rows); Tensor dx = Tensor.empty(DType.F32, n, cols)) {
                        float[] d = Fixtures.dense(q);
                        TiledMatmul.forward(q, xt.segment(), 0, n, y.segment(), 0);
                        TiledMatmul.backwardInput(q, gt.segment(), 0, n, dx.segment(), 0);
                        float[] yv = y.toFloatArray(), dxv = dx.toFloatArray();
                        for (int i = 0; i < n; i++) {
                            for (int r = 0; r < rows; r++) {
                                double ref = 0, mag = 0;
                                for (int c = 0; c < cols; c++) {
                                    ref += (double) d[r * cols + c] * x[i * cols + c];
                                    mag += Math.abs((double) d[r * cols + c] * x[i * cols + c]);
                                }
                                assertEquals(ref, yv[i * rows + r], 1e-5 * mag + 1e-30, name + " forward (" + i + ", " + r + ")");
                            }
                            for (int c = 0; c < cols; c++) {
                                double ref = 0, mag = 0;
                                for (int r = 0; r < rows; r++) {
                                    ref += (double) g[i * rows + r] * d[r * cols + c];
                                    mag += Math.abs((double) g[i * rows + r] * d[r * cols + c]);
                                }
                                assertEquals(ref, dxv[i * cols + c], 1e-5 * mag + 1e-30, name + " input gradient (" + i + ", " + c + ")");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void neitherPathMaterializesTheDenseWeight() {
        int rows = 257, cols = 1031, n = 3; // a dense copy would be about 1 MiB
        try (Tensor w = Fixtures.weight(9, rows, cols); QuantizedTensor q = formats().get("nf4-dq").apply(w);
             Tensor x = Tensor.of(Fixtures.gaussian(3, n * cols), n, cols); Tensor y = Tensor.empty(DType.F32, n, rows);
             Tensor g = Tensor.of(Fixtures.gaussian(4, n * rows), n, rows); Tensor dx = Tensor.empty(DType.F32, n, cols)) {
            long before = Allocator.liveBytes();
            Allocator.resetPeak();
            float[] yv = new float[rows];
            q.gemv(Fixtures.gaussian(5, cols), yv);
            assertEquals(before, Allocator.peakBytes(), "the fused GEMV allocates no off-heap memory");
            TiledMatmul.forward(q, x.segment(), 0, n, y.segment(), 0);
            TiledMatmul.backwardInput(q, g.segment(), 0, n, dx.segment(), 0);
            long tileBytes = 4L * TiledMatmul.TILE_FLOATS + 64;
            long scratchPeak = Allocator.peakBytes(MemoryCategory.SCRATCH);
            assertTrue(scratchPeak <= io.lowbit.tensor.cpu.Parallel.threads() * tileBytes,
                    "scratch peak " + scratchPeak + " bytes exceeds one tile per thread (" + tileBytes + ")");
            assertTrue(Allocator.peakBytes() - before < 4L * rows * cols / 2, "peak grew by " + (Allocator.peakBytes() - before) + " bytes");
            assertEquals(before, Allocator.liveBytes());
        }
    }

    @Test
    void quantLinearUsesGemvAndTilesConsistently() {
        int out = 33, in = 65;
        try (Tensor w = Fixtures.weight(3, out, in)) {
            float[] bias = Fixtures.gaussian(4, out);
            for (String name : new String[] {"rtn2-channel-asym", "nf4-dq"}) {
                try (QuantLinear lin = new QuantLinear(formats().get(name).apply(w), Tensor.of(bias, out).label(MemoryCategory.WEIGHTS))) {
                    float[] d = Fixtures.dense(lin.weight());
                    for (int n : new int[] {1, 3, 6}) { // GEMV up to 4 rows, tiles beyond
                        float[] x = Fixtures.gaussian(n, n * in);
                        try (Tensor xt = Tensor.of(x, 1, n, in); Tensor y = lin.forward(xt)) {
                            assertArrayEquals(new int[] {1, n, out}, y.shape());
                            for (int i = 0; i < n; i++)
                                for (int r = 0; r < out; r++) {
                                    double ref = bias[r], mag = Math.abs(bias[r]);
                                    for (int c = 0; c < in; c++) {
                                        ref += (double) d[r * in + c] * x[i * in + c];
                                        mag += Math.abs((double) d[r * in + c] * x[i * in + c]);
                                    }
                                    assertEquals(ref, y.getDouble((long) i * out + r), 1e-5 * mag, name + " n=" + n);
                                }
                        }
                    }
                    try (Tensor g = Tensor.of(Fixtures.gaussian(8, 2 * out), 2, out); Tensor dx = lin.backwardInput(g)) {
                        assertArrayEquals(new int[] {2, in}, dx.shape());
                    }
                    try (Tensor bad = Tensor.zeros(DType.F32, 2, in + 1)) {
                        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lin.forward(bad));
                        assertTrue(e.getMessage().contains("[2, 66]") && e.getMessage().contains("65"), e.getMessage());
                        assertThrows(IllegalArgumentException.class, () -> lin.backwardInput(bad));
                    }
                }
            }
        }
    }
}
