package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.cpu.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Counter-based Rng: reproducible across thread counts, independent forks, sane moments, resumable. */
class RngTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after RngTest"); }

    @Test
    void sameNumbersForEveryThreadCount() {
        int saved = Parallel.threads();
        try (var scope = MemoryScope.open()) {
            Parallel.setThreads(1);
            Rng r1 = new Rng(42);
            float[] u1 = Tensor.uniform(DType.F32, r1, -1, 1, 300, 257).toFloatArray();
            double[] n1 = Tensor.normal(DType.F64, r1, 0, 1, 70001).toDoubleArray();
            Parallel.setThreads(4);
            Rng r4 = new Rng(42);
            float[] u4 = Tensor.uniform(DType.F32, r4, -1, 1, 300, 257).toFloatArray();
            double[] n4 = Tensor.normal(DType.F64, r4, 0, 1, 70001).toDoubleArray();
            assertArrayEquals(u1, u4);
            assertArrayEquals(n1, n4);
            assertEquals(r1.position(), r4.position());
            assertEquals(300 * 257 + 70001, r1.position());
            // and the tensor fill is the same stream as the scalar draws
            Rng s = new Rng(42);
            for (int i = 0; i < 1000; i++) assertEquals((float) (-1 + 2 * s.nextDouble()), u1[i]);
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void differentSeedsAndForksAreIndependent() {
        Rng a = new Rng(7), b = new Rng(8);
        Rng fa = a.fork("init"), fb = a.fork("data"), fa2 = new Rng(7).fork("init");
        assertEquals(fa.seed(), fa2.seed(), "fork is a pure function of (seed, name)");
        a.nextDouble();
        assertEquals(fa.seed(), a.fork("init").seed(), "fork does not depend on the parent's position");
        assertEquals(1, a.position(), "forking does not advance the parent");
        // String.hashCode collisions must not give equal streams (regression: "Aa" and "BB")
        assertNotEquals(a.fork("Aa").seed(), a.fork("BB").seed());
        assertNotEquals(a.fork("init").seed(), b.fork("init").seed());
        int n = 20000;
        double[][] streams = {new double[n], new double[n], new double[n], new double[n]};
        Rng[] rs = {fa, fb, b, a.fork("Aa")};
        for (int k = 0; k < rs.length; k++) for (int i = 0; i < n; i++) streams[k][i] = rs[k].nextDouble();
        for (int x = 0; x < rs.length; x++)
            for (int y = x + 1; y < rs.length; y++) {
                double c = correlation(streams[x], streams[y]);
                assertTrue(Math.abs(c) < 0.04, "correlation " + c + " between streams " + x + " and " + y); // ~5.6 sigma
            }
        // lag-1 autocorrelation within a stream
        double[] s = streams[0];
        assertTrue(Math.abs(correlation(java.util.Arrays.copyOf(s, n - 1), java.util.Arrays.copyOfRange(s, 1, n))) < 0.04);
    }

    private static double correlation(double[] x, double[] y) {
        double mx = 0, my = 0;
        for (int i = 0; i < x.length; i++) { mx += x[i]; my += y[i]; }
        mx /= x.length; my /= y.length;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    @Test
    void momentsAreSane() {
        Rng r = new Rng(123);
        int n = 200_000;
        double s = 0, s2 = 0, s4 = 0, us = 0, umin = 1, umax = 0;
        for (int i = 0; i < n; i++) {
            double z = r.nextGaussian();
            s += z; s2 += z * z; s4 += z * z * z * z;
            double u = r.nextDouble();
            us += u;
            umin = Math.min(umin, u);
            umax = Math.max(umax, u);
        }
        double mean = s / n, var = s2 / n - mean * mean;
        assertEquals(0, mean, 0.015, "normal mean"); // sd of the estimate is 0.0022
        assertEquals(1, var, 0.02, "normal variance"); // sd 0.0032
        assertEquals(3, s4 / n, 0.1, "normal kurtosis"); // sd ~0.011
        assertEquals(0.5, us / n, 0.005);
        assertTrue(umin >= 0 && umax < 1);
        int[] counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[r.nextInt(7)]++;
        for (int c : counts) assertEquals(10_000, c, 600, "nextInt(7) bucket");
        assertThrows(IllegalArgumentException.class, () -> r.nextInt(0));
    }

    @Test
    void positionAndSeekResume() {
        Rng r = new Rng(99);
        for (int i = 0; i < 10; i++) r.nextDouble();
        long pos = r.position();
        assertEquals(10, pos);
        double[] first = {r.nextDouble(), r.nextGaussian(), r.nextInt(1000)};
        Rng resumed = new Rng(99);
        resumed.seek(pos);
        assertArrayEquals(first, new double[] {resumed.nextDouble(), resumed.nextGaussian(), resumed.nextInt(1000)});
        assertEquals(10, r.advance(5) - 3);
        assertEquals(18, r.position());
        assertEquals(r.uniformAt(18), r.nextDouble());
    }
}
