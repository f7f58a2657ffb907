package io.lowbit.quant.efficientqat;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** EfficientQAT's quantizer (spec "Quantizer") and E2E-QP's scale-only linear on small exact cases. */
@ExtendWith(NoLeaks.class)
class QuantizerGradientsTest {
    /**
     * 2 bits (codes 0..3), s = 0.5, z = 1.3 → round(z) = 1. W/s = [0.52, −1.8, 6, 1.48], round + z =
     * [2, −1, 7, 2], clamp → [2, 0, 3, 2]: elements 1 (below, q_bound 0) and 2 (above, q_bound 3) clipped.
     * Ŵ = 0.5·(q − 1) = [0.5, −0.5, 1, 0.5]. With output gradient G = [1, 2, 3, 4]:
     * ∂W = [1, 0, 0, 4]; ∂s = 1·(1 − 0.52) + 2·(0 − 1) + 3·(3 − 1) + 4·(1 − 1.48) = 2.56; ∂z = −0.5·(2 + 3) = −2.5.
     */
    @Test
    void gradientsInAndOutOfRangeMatchHandComputedCase() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var w = Var.param(Tensor.of(new double[] {0.26, -0.9, 3.0, 0.74}, 1, 4));
            Var s = Var.param(Tensor.of(new double[] {0.5}, 1, 1));
            Var z = Var.param(Tensor.of(new double[] {1.3}, 1, 1));
            Var wq = new AffineFakeQuant(2, 4).apply(w, s, z);
            assertArrayEquals(new double[] {0.5, -0.5, 1.0, 0.5}, wq.data().toDoubleArray(), 1e-15);
            wq.backward(Tensor.of(new double[] {1, 2, 3, 4}, 1, 4));
            assertArrayEquals(new double[] {1, 0, 0, 4}, w.grad().toDoubleArray(), 0);
            assertEquals(2.56, s.grad().item(), 1e-12);
            assertEquals(-2.5, z.grad().item(), 1e-15);
            for (Var v : List.of(w, s, z)) v.zeroGrad();
        }
    }

    /** Groups: two groups of 3 columns (the last one partial on 5 columns) each get their own sums. */
    @Test
    void groupSumsFollowTheColumnGroups() {
        try (MemoryScope _ = MemoryScope.open()) {
            // group 0: W/s = [0.4, 1.6, −3.2] (s 0.5, z 2): u = [2, 4, −1] → clipped at 1 (high, bound 3) and 2 (low, bound 0)
            // group 1: W/s = [0.3, −0.7] (s 1, z 1): u = [1, 0], both inside
            Var w = Var.param(Tensor.of(new double[] {0.2, 0.8, -1.6, 0.3, -0.7}, 1, 5));
            Var s = Var.param(Tensor.of(new double[] {0.5, 1.0}, 1, 2));
            Var z = Var.param(Tensor.of(new double[] {2, 1}, 1, 2));
            Var wq = new AffineFakeQuant(2, 3).apply(w, s, z);
            assertArrayEquals(new double[] {0, 0.5, -1, 0, -1}, wq.data().toDoubleArray(), 1e-15);
            F.sum(wq).backward();
            assertArrayEquals(new double[] {1, 0, 0, 1, 1}, w.grad().toDoubleArray(), 0);
            assertArrayEquals(new double[] {(0 - 0.4) + (3 - 2) + (0 - 2), (0 - 0.3) + (-1 + 0.7)}, s.grad().toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {-0.5 * 2, 0}, z.grad().toDoubleArray(), 1e-15);
            for (Var v : List.of(w, s, z)) v.zeroGrad();
        }
    }

    /** Where every element is clipped, Ŵ = s·(q_bound − round(z)) is linear in s: finite differences give the spec's ∂Ŵ/∂s exactly. */
    @Test
    void clippedScaleGradientMatchesFiniteDifferences() {
        Rng rng = new Rng(51);
        try (MemoryScope _ = MemoryScope.open()) {
            Tensor wt = Tensor.uniform(DType.F64, rng, 5, 9, 3, 8);               // far above the grid
            for (int i = 0; i < 12; i++) wt.setDouble(2 * i, -wt.getDouble(2 * i)); // half far below
            Var w = new Var(wt);
            Var s = Var.param(Tensor.uniform(DType.F64, rng, 0.05, 0.1, 3, 2));
            Var z = new Var(Tensor.of(new double[] {1, 2, 0, 3, 2, 1}, 3, 2));
            GradCheck.assertGradients(in -> new AffineFakeQuant(2, 4).apply(in[0], in[1], in[2]), w, s, z);
        }
    }

    /** Forward and all three gradients vs a plain loop of the spec's formulas, odd shapes, partial groups, ~30% clipped. */
    @Test
    void kernelMatchesReferenceLoop() {
        for (int[] shape : new int[][] {{1, 1}, {7, 33}, {33, 7}, {65, 31}}) {
            int rows = shape[0], cols = shape[1], gc = 4, ng = (cols + gc - 1) / gc, bits = 3, maxq = 7;
            Rng rng = new Rng(rows * 97 + cols);
            try (MemoryScope _ = MemoryScope.open()) {
                Var w = Var.param(Tensor.normal(DType.F64, rng, 0, 1, rows, cols));
                Var s = Var.param(Tensor.uniform(DType.F64, rng, 0.15, 0.4, rows, ng));
                Var z = Var.param(Tensor.uniform(DType.F64, rng, 0, 7, rows, ng));
                Tensor g = Tensor.normal(DType.F64, rng, 0, 1, rows, cols);
                Var wq = new AffineFakeQuant(bits, gc).apply(w, s, z);
                wq.backward(g);
                double[] ds = new double[rows * ng], dz = new double[rows * ng];
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) {
                        int k = r * ng + c / gc;
                        double sc = s.data().getDouble(k), zr = Math.rint(z.data().getDouble(k)), v = w.data().get(r, c) / sc;
                        double u = Math.rint(v) + zr, q = Math.max(0, Math.min(maxq, u)), gv = g.get(r, c);
                        assertEquals(sc * (q - zr), wq.data().get(r, c), 1e-12, "forward");
                        boolean in = u >= 0 && u <= maxq;
                        assertEquals(in ? gv : 0, w.grad().get(r, c), 0, "∂W");
                        ds[k] += gv * (in ? Math.rint(v) - v : q - zr);
                        dz[k] += in ? 0 : -gv * sc;
                    }
                assertArrayEquals(ds, s.grad().toDoubleArray(), 1e-12, "∂s " + rows + "x" + cols);
                assertArrayEquals(dz, z.grad().toDoubleArray(), 1e-12, "∂z " + rows + "x" + cols);
                for (Var v : List.of(w, s, z)) v.zeroGrad();
            }
        }
    }

    /** Mismatched s or z shapes are rejected with both shapes in the message. */
    @Test
    void badShapesAreRejectedClearly() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var w = new Var(Tensor.zeros(DType.F32, 3, 8));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new AffineFakeQuant(2, 4).apply(w, new Var(Tensor.zeros(DType.F32, 3, 3)), new Var(Tensor.zeros(DType.F32, 3, 2))));
            assertTrue(e.getMessage().contains("[3, 8]") && e.getMessage().contains("[3, 2]"), e.getMessage());
        }
    }

    /** Frozen integers dequantize bit-identically to the F32 fake-quantized weight (odd shapes, partial groups). */
    @Test
    void freezeEqualsFakeQuant() {
        for (int bits : new int[] {2, 3, 4})
            for (int[] shape : new int[][] {{1, 7}, {7, 33}, {31, 65}}) {
                Rng rng = new Rng(bits * 1000 + shape[1]);
                try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.05, shape[0], shape[1]);
                     EfficientQatLinear l = new EfficientQatLinear(w, null, bits, 8);
                     MemoryScope _ = MemoryScope.open()) {
                    for (int i = 0; i < l.scale().numel(); i++) {             // move s and z off their init
                        l.scale().data().setDouble(i, l.scale().data().getDouble(i) * (0.8 + 0.4 * rng.nextDouble()));
                        l.zero().data().setDouble(i, l.zero().data().getDouble(i) + rng.nextDouble() - 0.5);
                    }
                    l.project();
                    Var wq = new AffineFakeQuant(bits, 8).apply(l.weight(), l.scale(), l.zero());
                    try (AffineQuantizedTensor q = l.freeze(); Tensor d = q.dequantize()) {
                        assertArrayEquals(wq.data().toFloatArray(), d.toFloatArray(), bits + " bits " + shape[0] + "x" + shape[1]);
                    }
                }
            }
    }

    /** Initialization is per-group min-max: s = (max − min)/(2^b − 1), z = round(−min/s). */
    @Test
    void minMaxInitialization() {
        try (Tensor w = Tensor.of(new float[] {-0.3f, 0.1f, 0.6f, 0.2f, -0.1f, 0.05f}, 1, 6);
             EfficientQatLinear l = new EfficientQatLinear(w, null, 2, 3)) {
            assertEquals((float) (0.9 / 3), l.scale().data().getDouble(0), 1e-7);
            assertEquals(1, l.zero().data().getDouble(0));                   // round(0.3 / 0.3)
            assertEquals((float) (0.3 / 3), l.scale().data().getDouble(1), 1e-7);
            assertEquals(1, l.zero().data().getDouble(1));                   // round(0.1 / 0.1)
        }
    }

    /** E2E-QP's W = s·(q − z) is linear in s and x: finite differences in F64 check both gradients, tiled and per-tensor too. */
    @Test
    void scaleOnlyLinearGradientsMatchFiniteDifferences() {
        Rng rng = new Rng(52);
        for (AffineSpec spec : List.of(AffineSpec.perGroup(3, false, 4), AffineSpec.perChannel(2, true), AffineSpec.perTensor(4, false))) {
            try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, 5, 7);
                 ScaleOnlyQuantLinear l = new ScaleOnlyQuantLinear(new AffineQuantizer(spec).quantize(w), null, DType.F64);
                 MemoryScope _ = MemoryScope.open()) {
                Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 3, 7));
                for (int tile : new int[] {DequantScaleLinear.TILE_ELEMENTS, 14}) // 14 elements: 2 rows per tile, a partial last tile
                    GradCheck.assertGradients(in -> new DequantScaleLinear(l.quantized(), tile).apply(in[0], in[1]), x, l.scale());
            }
        }
    }

    /** E2E-QP keeps no dense weight: after forward only y is alive, and forward's transient peak is one tile (+ its product). */
    @Test
    void scaleOnlyLinearSavesNoDenseWeight() {
        Rng rng = new Rng(54);
        int rows = 129, cols = 63, tokens = 3, tile = 8 * cols;               // 8 rows per tile
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, rows, cols);
             ScaleOnlyQuantLinear l = new ScaleOnlyQuantLinear(new AffineQuantizer(AffineSpec.perGroup(4, false, 16)).quantize(w), null);
             MemoryScope _ = MemoryScope.open()) {
            Var x = new Var(Tensor.normal(DType.F32, rng, 0, 1, tokens, cols));
            long before = Allocator.liveBytes(io.lowbit.tensor.MemoryCategory.ACTIVATIONS);
            Allocator.resetPeak();
            Var y = new DequantScaleLinear(l.quantized(), tile).apply(x, l.scale());
            long yBytes = 4L * tokens * rows + 64 - (4L * tokens * rows) % 64;
            assertEquals(before + yBytes, Allocator.liveBytes(io.lowbit.tensor.MemoryCategory.ACTIVATIONS), "only y is alive after forward");
            long peak = Allocator.peakBytes(io.lowbit.tensor.MemoryCategory.ACTIVATIONS) - before;
            assertTrue(peak <= yBytes + 4L * tile + 64 + 4L * tokens * 8 + 64, "forward peak " + peak + " is y + one tile, not a dense weight (" + 4L * rows * cols + ")");
            F.sum(y).backward();
            assertNotNull(l.scale().grad());
            l.zeroGrad();
        }
    }

    /** Forward equals a dense linear over the dequantized weight, and the export carries the trained scales. */
    @Test
    void scaleOnlyLinearForwardAndExport() {
        Rng rng = new Rng(53);
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, 65, 33);
             Tensor bias = Tensor.normal(DType.F32, rng, 0, 0.1, 65);
             ScaleOnlyQuantLinear l = new ScaleOnlyQuantLinear(new AffineQuantizer(AffineSpec.perGroup(2, false, 8)).quantize(w), bias);
             MemoryScope _ = MemoryScope.open()) {
            Var x = new Var(Tensor.normal(DType.F32, rng, 0, 1, 5, 33));
            try (Tensor d = l.quantized().dequantize()) {
                Var ref = F.linear(x, new Var(d), new Var(bias));
                assertArrayEquals(ref.data().toFloatArray(), l.forward(x).data().toFloatArray(), 1e-5f);
            }
            l.scale().data().mulInPlace(1.25);
            try (AffineQuantizedTensor q = l.toQuantizedTensor()) {
                for (int r = 0; r < 65; r++)
                    for (int c = 0; c < 33; c++) {
                        int g = q.groupOf(c);
                        assertEquals(l.quantized().code(r, c), q.code(r, c));
                        assertEquals(l.quantized().zero(r, g), q.zero(r, g));
                        assertEquals((float) (l.quantized().scale(r, g) * 1.25), q.scale(r, g));
                    }
                assertEquals("efficientqat", q.method());
            }
        }
    }
}
