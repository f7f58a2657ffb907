package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.nf4.Nf4;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class Nf4Test {
    /** The 16 levels exactly as printed in the spec (/work/shared/specs/nf4.md). */
    private static final double[] SPEC_LEVELS = {
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0
    };

    @Test
    void levelsAreThePublishedOnes() {
        float[] l = Nf4.levels();
        assertEquals(16, l.length);
        for (int i = 0; i < 16; i++) assertEquals(SPEC_LEVELS[i], l[i], 0.0, "level " + i); // the spec prints float32 values exactly
        for (int i = 0; i < 16; i++) assertEquals(i, Nf4.nearest(SPEC_LEVELS[i]), "level " + i + " maps to itself");
    }

    @Test
    void blockOfExactLevelsGivesCodes0To15() {
        float[] w = new float[64];
        for (int i = 0; i < 64; i++) w[i] = (float) (SPEC_LEVELS[i % 16] * 0.5); // absmax 0.5
        try (Tensor t = Tensor.of(w, 2, 32); Nf4Tensor q = new Nf4Quantizer(64, false, 256).quantize(t)) {
            for (int i = 0; i < 64; i++) assertEquals(i % 16, q.code(i));
            assertEquals(0.5f, q.absmax(0));
            float[] d = Fixtures.dense(q);
            for (int i = 0; i < 64; i++) assertEquals(Nf4.level(i % 16) * 0.5f, d[i], 0f);
        }
    }

    @Test
    void codesAreTheNearestLevelAndShortLastBlockWorks() {
        for (boolean dq : new boolean[] {false, true}) {
            try (Tensor t = Fixtures.weight(21, 3, 43); Nf4Tensor q = new Nf4Quantizer(64, dq, 256).quantize(t)) { // 129 values: blocks 64, 64, 1
                assertEquals(3, q.numBlocks());
                float[] w = t.toFloatArray(), d = Fixtures.dense(q);
                for (int b = 0; b < 3; b++) {
                    float amax = 0f;
                    for (int e = b * 64; e < Math.min(129, b * 64 + 64); e++) amax = Math.max(amax, Math.abs(w[e]));
                    if (!dq) assertEquals(amax, q.absmax(b), 0f);
                    for (int e = b * 64; e < Math.min(129, b * 64 + 64); e++) {
                        double v = w[e] / (double) amax;
                        int best = 0;
                        for (int k = 1; k < 16; k++) if (Math.abs(v - SPEC_LEVELS[k]) < Math.abs(v - SPEC_LEVELS[best])) best = k;
                        assertEquals(best, q.code(e), "element " + e + " (v = " + v + ")");
                        assertEquals(Nf4.level(best) * q.absmax(b), d[e], 0f);
                    }
                }
                // the last, one-element block is its own absmax: it dequantizes to ±absmax (dq: up to the absmax grid)
                assertEquals(w[128], d[128], dq ? 0.05 * Math.abs(w[128]) + 1e-3 : 0.0);
            }
        }
    }

    @Test
    void allZeroBlocksDequantizeToExactZeros() {
        float[] w = new float[200];
        for (int i = 64; i < 128; i++) w[i] = (i % 3 - 1) * 0.1f; // blocks 0, 2, 3 are zero
        for (boolean dq : new boolean[] {false, true}) {
            try (Tensor t = Tensor.of(w, 8, 25); Nf4Tensor q = new Nf4Quantizer(64, dq, 256).quantize(t)) {
                float[] d = Fixtures.dense(q);
                for (int i = 0; i < 200; i++) {
                    assertFalse(Float.isNaN(d[i]));
                    if (i < 64 || i >= 128) assertEquals(0f, d[i], 0f, "element " + i);
                    else assertEquals(w[i], d[i], 0.002f, "element " + i);
                }
            }
        }
    }

    @Test
    void doubleQuantizationCostsAbout4127BitsPerWeight() {
        try (Tensor t = Fixtures.weight(22, 256, 1024);
             Nf4Tensor dq = new Nf4Quantizer().quantize(t);
             Nf4Tensor plain = new Nf4Quantizer(64, false, 256).quantize(t)) {
            long n = 256L * 1024, blocks = n / 64, dqBlocks = blocks / 256;
            assertEquals(n / 2 + blocks + 4 * dqBlocks + 4, dq.bytes()); // codes + int8 absmax + F32 scales + F32 mean
            assertEquals(n / 2 + 4 * blocks, plain.bytes());
            assertEquals(4 + 8.0 / 64 + 32.0 / (64 * 256) + 32.0 / n, dq.bitsPerWeight(), 1e-12);
            assertEquals(4.127, dq.bitsPerWeight(), 5e-4);
            assertEquals(4.5, plain.bitsPerWeight(), 1e-12);
            // the 8-bit absmax is close to the real one: within half a step of its block's grid
            float[] d = Fixtures.dense(dq), p = Fixtures.dense(plain);
            double maxRel = 0;
            for (int b = 0; b < blocks; b++) {
                maxRel = Math.max(maxRel, Math.abs(dq.absmax(b) - plain.absmax(b)) / plain.absmax(b));
            }
            assertTrue(maxRel < 0.05, "double-quantized absmax relative error " + maxRel);
            double err = 0, ref = 0;
            for (int i = 0; i < d.length; i++) {
                err += (d[i] - p[i]) * (d[i] - p[i]);
                ref += p[i] * p[i];
            }
            assertTrue(Math.sqrt(err / ref) < 0.02, "double quantization changes the weights by " + Math.sqrt(err / ref));
        }
    }

    @Test
    void rangeDecodeOfDoubleQuantizedAbsmaxEqualsOneAtATimeBitExactly() {
        // 4096 blocks = 16 second-level blocks; ranges start mid-block and end past vector multiples
        try (Tensor t = Fixtures.weight(23, 256, 1024); Nf4Tensor dq = new Nf4Quantizer().quantize(t)) {
            for (int[] range : new int[][] {{0, 4096}, {1, 300}, {250, 17}, {255, 2}, {511, 1030}, {4000, 96}}) {
                float[] out = new float[range[1]];
                dq.absmax(range[0], range[1], out);
                for (int i = 0; i < range[1]; i++)
                    assertEquals(Float.floatToIntBits(dq.absmax(range[0] + i)), Float.floatToIntBits(out[i]), "block " + (range[0] + i));
            }
        }
    }
}
