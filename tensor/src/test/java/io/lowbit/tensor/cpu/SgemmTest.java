package io.lowbit.tensor.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Sgemm} against a double-accumulating reference loop on odd shapes, all transpositions, 1 and 2 threads. */
class SgemmTest {
    private static final int[] SIZES = {1, 7, 31, 33, 63, 65, 127, 129};
    private static long liveAtStart;
    private static int threadsAtStart;

    @BeforeAll
    static void start() {
        liveAtStart = Allocator.liveBytes();
        threadsAtStart = Parallel.threads();
    }

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(threadsAtStart);
    }

    @AfterAll
    static void noLeak() {
        assertEquals(liveAtStart, Allocator.liveBytes(), "live bytes after SgemmTest");
    }

    /** One problem: sizes, transpositions, scalars, padding of the leading dimensions and offsets. */
    record Case(int m, int n, int k, boolean ta, boolean tb, float alpha, float beta, int pad, int off, int threads) {}

    /** A deterministic sample of the odd-size grid: every size appears in every dimension and every transpose combo. */
    static Stream<Arguments> oddShapes() {
        SplittableRandom rnd = new SplittableRandom(42);
        List<Arguments> cases = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            for (int i = 0; i < SIZES.length; i++) {
                int m = SIZES[i], n = SIZES[(i + 3 + t) % SIZES.length], k = SIZES[(i + 5 + 2 * t) % SIZES.length];
                float alpha = rnd.nextBoolean() ? 1f : 0.75f;
                float beta = switch (rnd.nextInt(3)) { case 0 -> 0f; case 1 -> 1f; default -> -0.5f; };
                int pad = rnd.nextInt(3) * 5, off = rnd.nextInt(2) * 13, threads = 1 + (i & 1);
                cases.add(Arguments.of(new Case(m, n, k, ta, tb, alpha, beta, pad, off, threads)));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest
    @MethodSource("oddShapes")
    void oddShapesMatchReference(Case c) {
        check(c, 1L);
    }

    /** Every pair of sizes for m and n at k = 65 and k = 1, all transpositions (the skinny and edge-tile paths). */
    @Test
    void allEdgeTilesAndSkinnyPaths() {
        for (int m : SIZES)
            for (int n : SIZES)
                for (int k : new int[] {1, 65})
                    check(new Case(m, n, k, (m + n) % 2 == 0, (m + k) % 3 == 0, 1.25f, m % 2 == 0 ? 0f : 0.5f, 3, 5, 1 + (n & 1)), 2L);
    }

    @Test
    void largerThanOneBlockInEveryDimension() {
        // more than one NC column block (NC = 2048; 2 threads split the 4200 columns), MC row block and KC slice;
        // then the 1000x257x300 shape in every transpose combo
        check(new Case(700, 4200, 300, false, false, 0.5f, 2f, 7, 3, 2), 3L);
        for (int t = 0; t < 4; t++)
            check(new Case(1000, 257, 300, (t & 1) != 0, (t & 2) != 0, 0.5f, t == 0 ? 0f : 2f, 7, 3, 2 - (t & 1)), 4L + t);
    }

    @Test
    void betaZeroIgnoresNaNInC() {
        for (int threads = 1; threads <= 2; threads++)
            for (int[] s : new int[][] {{65, 129, 33}, {1, 33, 7}, {33, 1, 7}, {31, 63, 1}}) {
                Parallel.setThreads(threads);
                try (Tensor a = Tensor.of(ones(s[0] * s[2]), s[0], s[2]);
                     Tensor b = Tensor.of(ones(s[2] * s[1]), s[2], s[1]);
                     Tensor c = Tensor.full(DType.F32, Double.NaN, s[0], s[1])) {
                    Sgemm.sgemm(false, false, s[0], s[1], s[2], 2f, a.segment(), 0, s[2], b.segment(), 0, s[1], 0f, c.segment(), 0, s[1]);
                    for (float v : c.toFloatArray()) assertEquals(2f * s[2], v, 0f);
                }
            }
    }

    @Test
    void zeroDepthOrZeroAlphaScalesC() {
        try (Tensor a = Tensor.of(new float[] {Float.NaN, 1, 2, 3}, 2, 2); Tensor c = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
            Sgemm.sgemm(false, false, 2, 2, 0, 1f, a.segment(), 0, 1, a.segment(), 0, 2, 3f, c.segment(), 0, 2);
            assertArrayEquals(new float[] {3, 6, 9, 12}, c.toFloatArray());
            Sgemm.sgemm(false, false, 2, 2, 2, 0f, a.segment(), 0, 2, a.segment(), 0, 2, 0f, c.segment(), 0, 2);
            assertArrayEquals(new float[] {0, 0, 0, 0}, c.toFloatArray());
        }
    }

    @Test
    void smallExactCase() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = Tensor.of(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
             Tensor bt = Tensor.of(new float[] {7, 9, 11, 8, 10, 12}, 2, 3);
             Tensor c = Tensor.of(new float[] {1, 1, 1, 1}, 2, 2)) {
            Sgemm.sgemm(false, false, 2, 2, 3, 1f, a.segment(), 0, 3, b.segment(), 0, 2, 0f, c.segment(), 0, 2);
            assertArrayEquals(new float[] {58, 64, 139, 154}, c.toFloatArray());
            Sgemm.sgemm(false, true, 2, 2, 3, 1f, a.segment(), 0, 3, bt.segment(), 0, 3, 1f, c.segment(), 0, 2);
            assertArrayEquals(new float[] {116, 128, 278, 308}, c.toFloatArray());
        }
    }

    @Test
    void badArgumentsAreNamed() {
        try (Tensor a = Tensor.empty(DType.F32, 4, 4)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Sgemm.sgemm(false, false, 4, 4, 4, 1f, a.segment(), 0, 3, a.segment(), 0, 4, 0f, a.segment(), 0, 4));
            assertTrue(e.getMessage().contains("lda=3"), e.getMessage());
            var o = assertThrows(IndexOutOfBoundsException.class,
                    () -> Sgemm.sgemm(false, false, 4, 4, 4, 1f, a.segment(), 1, 4, a.segment(), 0, 4, 0f, a.segment(), 0, 4));
            assertTrue(o.getMessage().contains("stored A"), o.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> Sgemm.sgemm(false, false, -1, 4, 4, 1f, a.segment(), 0, 4, a.segment(), 0, 4, 0f, a.segment(), 0, 4));
        }
    }

    private static float[] ones(int n) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, 1f);
        return x;
    }

    /**
     * Runs one case on tensors with padded leading dimensions and offsets and compares every element of C
     * (and that padding is untouched) with a double-precision reference.
     */
    private static void check(Case t, long seed) {
        Parallel.setThreads(t.threads());
        SplittableRandom rnd = new SplittableRandom(seed * 31 + t.m() * 7919L + t.n() * 104729L + t.k());
        int aRows = t.ta() ? t.k() : t.m(), aCols = t.ta() ? t.m() : t.k();
        int bRows = t.tb() ? t.n() : t.k(), bCols = t.tb() ? t.k() : t.n();
        int lda = aCols + t.pad(), ldb = bCols + t.pad(), ldc = t.n() + t.pad(), off = t.off();
        float[] a = random(rnd, off + aRows * lda), b = random(rnd, off + bRows * ldb), c0 = random(rnd, off + t.m() * ldc);
        if (t.beta() == 0f) for (int i = off; i < c0.length; i++) c0[i] = Float.NaN; // beta = 0 must not read C
        try (Tensor ta = Tensor.of(a, a.length); Tensor tb = Tensor.of(b, b.length); Tensor tc = Tensor.of(c0, c0.length)) {
            Sgemm.sgemm(t.ta(), t.tb(), t.m(), t.n(), t.k(), t.alpha(), ta.segment(), off, lda, tb.segment(), off, ldb,
                    t.beta(), tc.segment(), off, ldc);
            float[] got = tc.toFloatArray();
            // op(B) as a dense k×n double matrix, so the reference loop runs i, p, j over contiguous rows
            double[] opB = new double[t.k() * t.n()];
            for (int p = 0; p < t.k(); p++)
                for (int j = 0; j < t.n(); j++) opB[p * t.n() + j] = b[off + (t.tb() ? j * ldb + p : p * ldb + j)];
            double[] acc = new double[t.n()], mag = new double[t.n()];
            for (int i = 0; i < t.m(); i++) {
                java.util.Arrays.fill(acc, 0);
                java.util.Arrays.fill(mag, 0);
                for (int p = 0; p < t.k(); p++) {
                    double x = a[off + (t.ta() ? p * lda + i : i * lda + p)];
                    for (int j = 0; j < t.n(); j++) {
                        double xy = x * opB[p * t.n() + j];
                        acc[j] += xy;
                        mag[j] += Math.abs(xy);
                    }
                }
                for (int j = 0; j < ldc; j++) {
                    int ci = off + i * ldc + j;
                    if (j >= t.n()) {
                        assertEquals(Float.floatToRawIntBits(c0[ci]), Float.floatToRawIntBits(got[ci]), "padding of C touched at " + i + "," + j + " in " + t);
                        continue;
                    }
                    double old = t.beta() == 0f ? 0 : t.beta() * (double) c0[ci];
                    double want = t.alpha() * acc[j] + old;
                    double tol = 4 * Math.ulp(1f) * (Math.abs(t.alpha()) * mag[j] * Math.sqrt(t.k() + 1) + Math.abs(old) + 1e-30);
                    assertEquals(want, got[ci], tol, "C[" + i + "," + j + "] of " + t);
                }
            }
            for (int i = 0; i < off; i++) assertEquals(Float.floatToRawIntBits(c0[i]), Float.floatToRawIntBits(got[i]), "C before offset touched");
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }
}
