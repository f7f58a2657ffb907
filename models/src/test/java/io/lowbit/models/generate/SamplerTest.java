package io.lowbit.models.generate;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SamplerTest {
    static float[] logitsOf(double... p) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) l[i] = (float) Math.log(p[i]);
        return l;
    }

    static double[] frequencies(Sampler s, float[] logits, int draws) {
        double[] f = new double[logits.length];
        for (int i = 0; i < draws; i++) f[s.sample(logits)] += 1.0 / draws;
        return f;
    }

    @Test
    void greedyTakesTheFirstLargest() {
        Sampler g = Sampler.greedy(5);
        assertEquals(3, g.sample(new float[] {0, 1, 2, 5, -1}));
        assertEquals(1, g.sample(new float[] {0, 7, 2, 7, -1}), "ties go to the smaller id (as run.c)");
        assertEquals(2, g.sample(new float[] {0, 1, 2, 1, 0, 99}), "only the first vocab entries count");
    }

    @Test
    void temperatureOneSamplesTheSoftmax() {
        double[] p = {0.1, 0.2, 0.3, 0.4};
        double[] f = frequencies(new Sampler(4, 1.0, 0, 1.0, 7), logitsOf(p), 40000);
        for (int i = 0; i < 4; i++) assertEquals(p[i], f[i], 0.01, "token " + i);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        double[] p = {0.1, 0.2, 0.3, 0.4};
        // T = 0.5 squares the probabilities before renormalizing
        double z = 0.01 + 0.04 + 0.09 + 0.16;
        double[] f = frequencies(new Sampler(4, 0.5, 0, 1.0, 3), logitsOf(p), 40000);
        for (int i = 0; i < 4; i++) assertEquals(p[i] * p[i] / z, f[i], 0.01, "token " + i);
    }

    @Test
    void topKAndTopPKeepOnlyTheHead() {
        double[] p = {0.05, 0.5, 0.1, 0.35};
        double[] k2 = frequencies(new Sampler(4, 1.0, 2, 1.0, 1), logitsOf(p), 20000);
        assertEquals(0, k2[0]);
        assertEquals(0, k2[2]);
        assertEquals(0.5 / 0.85, k2[1], 0.015);
        // top-p 0.8: 0.5 + 0.35 = 0.85 >= 0.8, so tokens 1 and 3 remain
        double[] p8 = frequencies(new Sampler(4, 1.0, 0, 0.8, 2), logitsOf(p), 20000);
        assertEquals(0, p8[0] + p8[2]);
        assertEquals(0.35 / 0.85, p8[3], 0.015);
        // top-p 0.4: the single most likely token
        double[] p4 = frequencies(new Sampler(4, 1.0, 0, 0.4, 2), logitsOf(p), 200);
        assertEquals(1.0, p4[1], 1e-9);
    }

    @Test
    void tinyTopPOnAFlatDistributionStillSamples() {
        float[] flat = new float[1000];
        Sampler s = new Sampler(1000, 1.0, 0, 1e-7, 3);
        for (int i = 0; i < 20; i++) assertEquals(0, s.sample(flat), "ties resolve to the smallest id, the single nucleus token");
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] l = logitsOf(0.2, 0.2, 0.2, 0.2, 0.2);
        Sampler a = new Sampler(5, 1, 0, 0.9, 11), b = new Sampler(5, 1, 0, 0.9, 11), c = new Sampler(5, 1, 0, 0.9, 12);
        int[] x = new int[50], y = new int[50], z = new int[50];
        for (int i = 0; i < 50; i++) {
            x[i] = a.sample(l);
            y[i] = b.sample(l);
            z[i] = c.sample(l);
        }
        assertArrayEquals(x, y);
        assertFalse(java.util.Arrays.equals(x, z));
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(5, -1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(5, 1, -2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(5, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(5, 1, 0, 1.5, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(0, 1, 0, 1, 0));
    }
}
