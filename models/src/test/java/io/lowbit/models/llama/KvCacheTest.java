package io.lowbit.models.llama;

import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.*;

/** The tiled cache's attention against softmax attention written as a plain double loop. */
@ExtendWith(NoLeaks.class)
class KvCacheTest {
    /** Head widths below, at and above a tile, and odd ones; position ranges that start and end inside tiles. */
    @Test
    void attendMatchesPlainSoftmaxAttention() {
        int layers = 2, kvHeads = 3, maxSeq = 70, T = KvCache.T;
        for (int headDim : new int[] {1, 3, 8, 16, 48}) {
            int kvDim = kvHeads * headDim;
            float[][][] keys = new float[layers][maxSeq][], values = new float[layers][maxSeq][];
            try (KvCache cache = new KvCache(layers, kvHeads, headDim, maxSeq)) {
                // positions 0 … filled−1 hold the sequence; the slots after it hold huge values left by another
                // sequence, which attend must mask off when pos ends inside their tile
                int filled = 60;
                float[] junk = new float[kvDim];
                java.util.Arrays.fill(junk, 1e30f);
                for (int l = 0; l < layers; l++)
                    for (int p = 0; p < maxSeq; p++) {
                        keys[l][p] = KernelsTest.random(kvDim, 1000L * l + p);
                        values[l][p] = KernelsTest.random(kvDim, 7000L * l + p + 13);
                        if (p < filled) cache.put(l, p, keys[l][p], 0, values[l][p], 0);
                        else cache.put(l, p, junk, 0, junk, 0);
                    }
                float[] qs = KernelsTest.random(headDim, headDim);
                float[] att = new float[cache.scoreStride() + 3], acc = new float[headDim * T + 5], out = new float[headDim + 2];
                int[][] ranges = {{0, 0}, {0, 1}, {0, T - 1}, {0, T}, {3, T + 2}, {T, 2 * T - 1}, {5, filled - 1}, {0, filled - 1}, {filled - 1, filled - 1}};
                for (int l = 0; l < layers; l++)
                    for (int g = 0; g < kvHeads; g++)
                        for (int[] r : ranges) {
                            int from = r[0], pos = r[1];
                            cache.attend(l, g, qs, 0, from, pos, att, 3, acc, 5, out, 2);
                            double[] s = new double[pos + 1];
                            double max = Double.NEGATIVE_INFINITY, z = 0;
                            for (int j = from; j <= pos; j++) {
                                for (int i = 0; i < headDim; i++) s[j] += (double) qs[i] * keys[l][j][g * headDim + i];
                                max = Math.max(max, s[j]);
                            }
                            for (int j = from; j <= pos; j++) z += s[j] = Math.exp(s[j] - max);
                            for (int i = 0; i < headDim; i++) {
                                double ref = 0;
                                for (int j = from; j <= pos; j++) ref += s[j] / z * values[l][j][g * headDim + i];
                                assertEquals(ref, out[2 + i], 1e-5, "headDim " + headDim + " layer " + l + " head " + g + " positions " + from + ".." + pos + " channel " + i);
                            }
                        }
            }
        }
    }
}
