package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.quant.uniform.Granularity;
import io.lowbit.quant.uniform.RangeSetting;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class AffineQuantizerTest {
    static List<AffineSpec> specs() {
        List<AffineSpec> s = new ArrayList<>();
        for (int bits : new int[] {2, 3, 4, 8})
            for (boolean sym : new boolean[] {false, true}) {
                s.add(AffineSpec.perTensor(bits, sym));
                s.add(AffineSpec.perChannel(bits, sym));
                for (int g : new int[] {32, 64, 128}) s.add(AffineSpec.perGroup(bits, sym, g));
            }
        return s;
    }

    /** Inside its grid's range a weight is within half a step; outside it lands on the nearest end. */
    private static void assertRoundTrip(AffineQuantizedTensor q, float[] w, String what) {
        float[] d = Fixtures.dense(q);
        int cols = q.cols();
        for (int r = 0; r < q.rows(); r++)
            for (int c = 0; c < cols; c++) {
                int g = q.groupOf(c);
                float s = q.scale(r, g);
                int z = q.zero(r, g);
                float lo = s * (0 - z), hi = s * (q.spec().maxq() - z);
                float v = w[r * cols + c], dv = d[r * cols + c];
                assertEquals(s * (float) (q.code(r, c) - z), dv, 0f, what + " dequantize() vs s·(q − z)");
                if (v >= lo && v <= hi) assertTrue(Math.abs(v - dv) <= s / 2 * (1 + 1e-6), what + " (" + r + "," + c + "): |" + v + " − " + dv + "| > step/2 = " + s / 2);
                else assertEquals(v < lo ? lo : hi, dv, 0f, what + " clipped value at (" + r + "," + c + ")");
            }
    }

    @Test
    void minMaxRoundTripIsWithinHalfAStepForEveryLayout() {
        try (Tensor wt = Fixtures.weight(11, 7, 129)) {
            float[] w = wt.toFloatArray();
            for (AffineSpec spec : specs()) {
                try (AffineQuantizedTensor q = new AffineQuantizer(spec).quantize(wt)) {
                    assertRoundTrip(q, w, spec.toString());
                    if (spec.granularity() == Granularity.PER_TENSOR) assertEquals(1, q.components().get("scales").size(0));
                    // min-max ranges cover every weight: nothing is clipped
                    float[] d = Fixtures.dense(q);
                    for (int i = 0; i < w.length; i++) {
                        int r = i / 129, c = i % 129;
                        assertTrue(Math.abs(w[i] - d[i]) <= q.scale(r, q.groupOf(c)) / 2 * (1 + 1e-6), spec + " element " + i);
                    }
                }
            }
        }
    }

    private static int countClipped(AffineQuantizedTensor q, float[] w) {
        int n = 0;
        for (int r = 0; r < q.rows(); r++)
            for (int c = 0; c < q.cols(); c++) {
                int g = q.groupOf(c);
                float s = q.scale(r, g);
                int z = q.zero(r, g);
                float v = w[r * q.cols() + c];
                if (v < s * (0 - z) || v > s * (q.spec().maxq() - z)) n++;
            }
        return n;
    }

    @Test
    void exactSmallCase() {
        // asymmetric 2-bit on {−1, 0, 0.9, 2}: xmin = −1, xmax = 2, s = 1, z = 1 -> codes 0,1,2,3, values −1,0,1,2
        try (Tensor w = Tensor.of(new float[] {-1f, 0f, 0.9f, 2f}, 1, 4);
             AffineQuantizedTensor q = new AffineQuantizer(AffineSpec.perChannel(2, false)).quantize(w)) {
            assertEquals(1f, q.scale(0, 0));
            assertEquals(1, q.zero(0, 0));
            for (int c = 0; c < 4; c++) assertEquals(c, q.code(0, c));
            assertArrayEquals(new float[] {-1, 0, 1, 2}, Fixtures.dense(q));
        }
        // symmetric 4-bit: a = 0.7, s = 0.1, z = 8
        AffineGrid g = AffineGrid.fit(-0.7, 0.35, 4, true);
        assertEquals(0.1f, g.scale(), 0f);
        assertEquals(8, g.zero());
        assertEquals(1, g.quantize(-0.7));
        assertEquals(0, g.quantize(-5));
        assertEquals(15, g.quantize(5));
        // an all-zero range still maps 0 to exactly 0
        AffineGrid z = AffineGrid.fit(0, 0, 3, false);
        assertEquals(0f, z.dequantize(z.quantize(0)), 0f);
    }

    @Test
    void gridSearchClipsOutliersAndLowersLpError() {
        try (Tensor wt = Fixtures.weight(12, 9, 128)) {
            float[] w = wt.toFloatArray();
            w[5] = 1f; // one large outlier in row 0, group 0
            int[] clipped = {0};
            try (Tensor wo = Tensor.of(w, 9, 128)) {
                for (double p : new double[] {2, 4}) {
                    for (int bits : new int[] {2, 3, 4}) {
                        AffineSpec spec = AffineSpec.perGroup(bits, false, 32);
                        try (AffineQuantizedTensor mm = new AffineQuantizer(spec).quantize(wo);
                             AffineQuantizedTensor lp = new AffineQuantizer(spec, RangeSetting.lpGrid(p)).quantize(wo)) {
                            assertRoundTrip(lp, w, "lp" + p + " " + bits + "-bit");
                            clipped[0] += countClipped(lp, w);
                            float[] dm = Fixtures.dense(mm), dl = Fixtures.dense(lp);
                            double em = 0, el = 0;
                            for (int r = 0; r < 9; r++)
                                for (int g = 0; g < 4; g++) {
                                    double gm = 0, gl = 0;
                                    for (int c = g * 32; c < g * 32 + 32; c++) {
                                        int i = r * 128 + c;
                                        gm += Math.pow(Math.abs(w[i] - dm[i]), p);
                                        gl += Math.pow(Math.abs(w[i] - dl[i]), p);
                                    }
                                    assertTrue(gl <= gm * (1 + 1e-9), "group search never loses to min-max: p=" + p + " bits=" + bits + " row " + r + " group " + g);
                                    em += gm;
                                    el += gl;
                                }
                            assertTrue(el < em, "p=" + p + " bits=" + bits + ": grid search error " + el + " not below min-max " + em);
                        }
                    }
                }
                assertTrue(clipped[0] > 0, "the L^p searches clipped no weight at all");
            }
        }
    }

    @Test
    void bytesAndBitsPerWeight() {
        try (Tensor w = Fixtures.weight(13, 8, 256);
             AffineQuantizedTensor a = new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w);
             AffineQuantizedTensor s = new AffineQuantizer(AffineSpec.perChannel(3, true)).quantize(w);
             AffineQuantizedTensor t = new AffineQuantizer(AffineSpec.perTensor(8, true)).quantize(w)) {
            assertEquals(8 * 128 + 8 * 2 * 4 + 8 * 2, a.bytes());
            assertEquals(4 + 32.0 / 128 + 8.0 / 128, a.bitsPerWeight(), 1e-12);
            assertEquals(8 * 96 + 8 * 4, s.bytes()); // 256·3/8 = 96 bytes per row, one F32 scale per row, no zeros
            assertEquals(8 * 256 + 4, t.bytes());
            assertFalse(s.components().containsKey("zeros"));
        }
    }

    @Test
    void bf16AndNonContiguousWeightsQuantizeLikeTheirF32Copy() {
        try (Tensor w = Fixtures.weight(14, 33, 65); Tensor b = w.to(DType.BF16); Tensor bf = b.to(DType.F32);
             Tensor wt = Fixtures.weight(15, 65, 33); Tensor wtc = wt.t().contiguous()) {
            AffineQuantizer q = new AffineQuantizer(AffineSpec.perGroup(3, false, 32));
            try (AffineQuantizedTensor a = q.quantize(b); AffineQuantizedTensor c = q.quantize(bf);
                 AffineQuantizedTensor t = q.quantize(wt.t()); AffineQuantizedTensor tc = q.quantize(wtc)) {
                assertArrayEquals(Fixtures.dense(c), Fixtures.dense(a));
                assertArrayEquals(Fixtures.dense(tc), Fixtures.dense(t));
            }
        }
    }

    @Test
    void producerApiBuildsATensorFromLearnedScalesAndCodes() {
        // what a QAT method hands over: integer codes and its learned scale/zero per group
        AffineSpec spec = AffineSpec.perGroup(2, false, 4);
        try (AffineQuantizedTensor t = AffineQuantizedTensor.allocate(2, 6, spec, false, "lr-qat")) {
            t.setGrid(0, 0, new AffineGrid(0.5f, 1, 3));
            t.setGrid(0, 1, new AffineGrid(0.25f, 2, 3));
            t.setGrid(1, 0, new AffineGrid(1f, 0, 3));
            t.setGrid(1, 1, new AffineGrid(2f, 3, 3));
            int[] codes = {0, 1, 2, 3, 0, 3, 3, 2, 1, 0, 1, 2};
            for (int i = 0; i < 12; i++) t.setCode(i / 6, i % 6, codes[i]);
            assertArrayEquals(new float[] {-0.5f, 0f, 0.5f, 1f, -0.5f, 0.25f, 3f, 2f, 1f, 0f, -4f, -2f}, Fixtures.dense(t));
            assertEquals("lr-qat", t.quantizationConfig().get("quant_method"));
            assertThrows(IllegalArgumentException.class, () -> t.setGrid(0, 0, new AffineGrid(0.5f, 1, 15))); // 4-bit grid
            assertThrows(IllegalArgumentException.class, () -> t.setGrid(0, 0, new AffineGrid(0f, 1, 3)));
            assertThrows(IllegalArgumentException.class, () -> t.setCode(0, 0, 4));
        }
    }

    @Test
    void badInputIsRejected() {
        try (Tensor w3 = Tensor.zeros(DType.F32, 2, 3, 4); Tensor w = Tensor.zeros(DType.F32, 2, 4)) {
            AffineQuantizer q = new AffineQuantizer(AffineSpec.perChannel(4, false));
            assertThrows(IllegalArgumentException.class, () -> q.quantize(w3));
            w.setDouble(6, Double.NaN);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.quantize(w));
            assertTrue(e.getMessage().contains("row 1, column 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new AffineQuantizer(AffineSpec.perTensor(4, false)).quantize(w));
            assertTrue(e.getMessage().contains("row 1, column 2"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> AffineSpec.perGroup(4, false, 0));
        assertThrows(IllegalArgumentException.class, () -> AffineSpec.perChannel(5, false));
    }
}
