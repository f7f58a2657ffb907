package io.lowbit.tensor.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each fused kernel against a plain double-precision loop on odd shapes. */
class FusedTest {
    private static final int[] ODD = {1, 7, 31, 33, 63, 65, 127, 129};
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after FusedTest"); }

    private static Tensor rand(Random r, double scale, int... shape) {
        Tensor t = Tensor.empty(DType.F32, shape);
        for (long i = 0; i < t.numel(); i++) t.setDouble(i, scale * (2 * r.nextDouble() - 1));
        return t;
    }

    private static void close(double want, double got, double tol, String what) {
        if (!(Math.abs(want - got) <= tol * (1 + Math.abs(want)))) fail(what + ": want " + want + " got " + got);
    }

    @Test
    void rmsNormMatchesReference() {
        Random r = new Random(50);
        for (int d : ODD)
            for (int rows : new int[] {1, 3, 65})
                try (var scope = MemoryScope.open()) {
                    Tensor x = rand(r, 3, 1, rows, d), w = rand(r, 1.5, d);
                    Tensor inv = Tensor.empty(DType.F32, rows);
                    double eps = 1e-5;
                    Tensor y = Fused.rmsNorm(x, w, eps, inv);
                    assertArrayEquals(x.shape(), y.shape());
                    for (int i = 0; i < rows; i++) {
                        double ss = 0;
                        for (int j = 0; j < d; j++) ss += x.get(0, i, j) * x.get(0, i, j);
                        double invRms = 1 / Math.sqrt(ss / d + eps);
                        close(invRms, inv.get(i), 1e-6, "invRms d=" + d);
                        for (int j = 0; j < d; j++) close(x.get(0, i, j) * invRms * w.get(j), y.get(0, i, j), 1e-6, "rmsNorm d=" + d);
                    }
                    Tensor y2 = Fused.rmsNorm(x, w, eps);
                    assertArrayEquals(y.toFloatArray(), y2.toFloatArray());
                }
        try (var scope = MemoryScope.open()) {
            // eps dominates an all-zero row; no NaN
            Tensor z = Tensor.zeros(DType.F32, 2, 5), w = Tensor.full(DType.F32, 1, 5);
            assertArrayEquals(new float[10], Fused.rmsNorm(z, w, 1e-6).toFloatArray());
            var e = assertThrows(IllegalArgumentException.class, () -> Fused.rmsNorm(z, Tensor.zeros(DType.F32, 4), 1e-6));
            assertTrue(e.getMessage().contains("[4]") && e.getMessage().contains("[2, 5]"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class, () -> Fused.rmsNorm(Tensor.zeros(DType.F32, 5, 2).t(), w, 1e-6));
            assertTrue(e2.getMessage().contains("contiguous"), e2.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fused.rmsNorm(Tensor.zeros(DType.F64, 2, 5), w, 1e-6));
        }
    }

    private static double invFreq(int i, int hd, double theta, RopeScaling sc) {
        double f = 1 / Math.pow(theta, 2.0 * i / hd);
        return sc == null ? f : sc.apply(f);
    }

    @Test
    void ropeBothLayoutsMatchReference() {
        Random r = new Random(51);
        int[] headDims = {2, 6, 16, 34, 66, 128};
        for (int hd : headDims)
            for (boolean interleaved : new boolean[] {true, false})
                for (int heads : new int[] {1, 3})
                    try (var scope = MemoryScope.open()) {
                        int b = 2, t = 5, offset = 7, maxPos = 40;
                        double theta = 10000;
                        RopeTables tab = Fused.ropeTables(hd, maxPos, theta, null);
                        Tensor x = rand(r, 2, b, t, heads, hd);
                        Tensor y = Fused.rope(x, tab, offset, interleaved);
                        int half = hd / 2;
                        for (int bi = 0; bi < b; bi++)
                            for (int ti = 0; ti < t; ti++)
                                for (int h = 0; h < heads; h++)
                                    for (int i = 0; i < half; i++) {
                                        double ang = (offset + ti) * invFreq(i, hd, theta, null);
                                        int i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
                                        double x0 = x.get(bi, ti, h, i0), x1 = x.get(bi, ti, h, i1);
                                        String what = "rope hd=" + hd + (interleaved ? " interleaved" : " rotate-half");
                                        close(x0 * Math.cos(ang) - x1 * Math.sin(ang), y.get(bi, ti, h, i0), 2e-6, what);
                                        close(x0 * Math.sin(ang) + x1 * Math.cos(ang), y.get(bi, ti, h, i1), 2e-6, what);
                                    }
                        // the inverse rotation undoes it, and it is rope's backward (orthogonal)
                        Tensor back = Fused.ropeInverse(y, tab, offset, interleaved);
                        float[] xs = x.toFloatArray(), bs = back.toFloatArray();
                        for (int i = 0; i < xs.length; i++) close(xs[i], bs[i], 1e-5, "ropeInverse");
                        // 3-D input = batch of one
                        Tensor y3 = Fused.rope(x.select(0, 1).contiguous(), tab, offset, interleaved);
                        assertArrayEquals(y.select(0, 1).contiguous().toFloatArray(), y3.toFloatArray());
                    }
    }

    @Test
    void ropeTablesAndLlama3Scaling() {
        try (var scope = MemoryScope.open()) {
            RopeScaling sc = new RopeScaling(8, 1, 4, 8192);
            int hd = 128;
            double theta = 500000;
            RopeTables tab = Fused.ropeTables(hd, 70, theta, sc);
            assertEquals(70, tab.maxPositions());
            assertEquals(64, tab.halfDim());
            for (int p : new int[] {0, 1, 69})
                for (int i = 0; i < 64; i++) {
                    double ang = p * invFreq(i, hd, theta, sc);
                    close(Math.cos(ang), tab.cos().get(p, i), 1e-6, "cos");
                    close(Math.sin(ang), tab.sin().get(p, i), 1e-6, "sin");
                }
            // the three regimes of the llama3 rule (wavelengths against 8192/4 = 2048 and 8192/1 = 8192)
            double high = 2 * Math.PI / 1000; // wavelength 1000 < 2048: unchanged
            assertEquals(high, sc.apply(high), 0);
            double low = 2 * Math.PI / 20000; // wavelength 20000 > 8192: divided by the factor
            assertEquals(low / 8, sc.apply(low), 1e-18);
            double mid = 2 * Math.PI / 4096; // smooth = (8192/4096 - 1) / (4 - 1) = 1/3
            assertEquals((2.0 / 3) * mid / 8 + (1.0 / 3) * mid, sc.apply(mid), 1e-15);
            assertThrows(IllegalArgumentException.class, () -> new RopeScaling(8, 4, 1, 8192));
            assertThrows(IllegalArgumentException.class, () -> Fused.ropeTables(7, 10, 10000, null));
            Tensor x = Tensor.zeros(DType.F32, 1, 3, 2, 128);
            var e = assertThrows(IllegalArgumentException.class, () -> Fused.rope(x, tab, 68, true));
            assertTrue(e.getMessage().contains("71") && e.getMessage().contains("70"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fused.rope(Tensor.zeros(DType.F32, 1, 3, 2, 64), tab, 0, true));
        }
    }

    @Test
    void swigluMatchesReference() {
        Random r = new Random(52);
        for (int n : new int[] {1, 7, 31, 33, 63, 65, 127, 129, 1000, 4097, 9001})
            try (var scope = MemoryScope.open()) {
                Tensor g = rand(r, 12, n), u = rand(r, 3, n);
                Tensor y = Fused.swiglu(g, u);
                for (int i = 0; i < n; i++) {
                    double gv = g.getDouble(i);
                    close(gv / (1 + Math.exp(-gv)) * u.getDouble(i), y.getDouble(i), 3e-6, "swiglu n=" + n);
                }
            }
        try (var scope = MemoryScope.open()) {
            Tensor g = Tensor.of(new float[] {-100, 100, 0, -90}, 4), u = Tensor.of(new float[] {2, 2, 2, 1}, 4);
            float[] y = Fused.swiglu(g, u).toFloatArray();
            assertEquals(0, y[0], 1e-30);
            assertEquals(200, y[1]);
            assertEquals(0, y[2]);
            assertFalse(Float.isNaN(y[3]));
            var e = assertThrows(IllegalArgumentException.class, () -> Fused.swiglu(g, Tensor.zeros(DType.F32, 2, 2)));
            assertTrue(e.getMessage().contains("[4]") && e.getMessage().contains("[2, 2]"), e.getMessage());
        }
    }

    /** Reference attention in double. */
    private static double[] attentionRef(Tensor q, Tensor k, Tensor v, int startPos, int window) {
        int t = q.size(0), nh = q.size(1), hd = q.size(2), nkv = k.size(1), group = nh / nkv;
        double[] out = new double[t * nh * hd];
        for (int i = 0; i < t; i++)
            for (int h = 0; h < nh; h++) {
                int pos = startPos + i, kvh = h / group;
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = first; j <= pos; j++) {
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q.get(i, h, d) * k.get(j, kvh, d);
                    s[j] = dot / Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = first; j <= pos; j++) sum += Math.exp(s[j] - max);
                for (int d = 0; d < hd; d++) {
                    double acc = 0;
                    for (int j = first; j <= pos; j++) acc += Math.exp(s[j] - max) / sum * v.get(j, kvh, d);
                    out[(i * nh + h) * hd + d] = acc;
                }
            }
        return out;
    }

    @Test
    void attentionMatchesReference() {
        Random r = new Random(53);
        int[][] cases = { // t, nHeads, nKv, hd, startPos, capacity, window
            {1, 1, 1, 1, 0, 1, 0}, {7, 4, 2, 33, 0, 7, 0}, {5, 6, 3, 31, 9, 20, 0}, {1, 8, 2, 65, 30, 31, 0},
            {9, 3, 1, 63, 4, 13, 0}, {9, 4, 4, 7, 4, 16, 3}, {1, 2, 1, 129, 40, 64, 16}, {12, 2, 2, 16, 0, 12, 1},
            // several position chunks per query, several query waves, a window across chunk edges
            {40, 4, 2, 9, 260, 310, 0}, {3, 2, 1, 33, 600, 610, 300}, {1, 4, 1, 8, 1000, 1001, 0}
        };
        for (int[] c : cases)
            try (var scope = MemoryScope.open()) {
                int t = c[0], nh = c[1], nkv = c[2], hd = c[3], start = c[4], cap = c[5], window = c[6];
                Tensor q = rand(r, 3, t, nh, hd), k = rand(r, 3, cap, nkv, hd), v = rand(r, 1, cap, nkv, hd);
                // positions beyond the causal horizon must never be read: poison them
                for (int j = start + t; j < cap; j++) {
                    k.select(0, j).fill(Float.NaN);
                    v.select(0, j).fill(Float.NaN);
                }
                Tensor y = Fused.attention(q, k, v, start, window);
                assertArrayEquals(new int[] {t, nh, hd}, y.shape());
                double[] want = attentionRef(q, k, v, start, window);
                for (int i = 0; i < want.length; i++) close(want[i], y.getDouble(i), 2e-5, "attention case " + java.util.Arrays.toString(c) + " at " + i);
            }
        try (var scope = MemoryScope.open()) {
            // huge scores (|s| up to ~1e4) across several chunks: the per-chunk max shift and the merge keep it finite
            Tensor q = rand(r, 100, 3, 4, 16), k = rand(r, 100, 300, 2, 16), v = rand(r, 1, 300, 2, 16);
            Tensor y = Fused.attention(q, k, v, 297, 0);
            double[] want = attentionRef(q, k, v, 297, 0);
            for (int i = 0; i < want.length; i++) close(want[i], y.getDouble(i), 2e-3, "large-magnitude attention at " + i);
        }
        try (var scope = MemoryScope.open()) {
            // window 1 = each query sees only itself: out = v at its own position
            Tensor q = rand(r, 1, 3, 2, 4), k = rand(r, 1, 3, 1, 4), v = rand(r, 1, 3, 1, 4);
            Tensor y = Fused.attention(q, k, v, 0, 1);
            for (int i = 0; i < 3; i++) for (int h = 0; h < 2; h++) for (int d = 0; d < 4; d++) assertEquals(v.get(i, 0, d), y.get(i, h, d), 1e-6);
            var e = assertThrows(IllegalArgumentException.class, () -> Fused.attention(q, k, v, 1, 0));
            assertTrue(e.getMessage().contains("[1, 4)") && e.getMessage().contains("3"), e.getMessage());
            // 3 query heads cannot be grouped over 2 kv heads
            Tensor k2 = Tensor.zeros(DType.F32, 3, 2, 4), v2 = Tensor.zeros(DType.F32, 3, 2, 4);
            var e2 = assertThrows(IllegalArgumentException.class, () -> Fused.attention(Tensor.zeros(DType.F32, 1, 3, 4), k2, v2, 0, 0));
            assertTrue(e2.getMessage().contains("[1, 3, 4]") && e2.getMessage().contains("[3, 2, 4]"), e2.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fused.attention(q, k, v, 0, -1));
        }
    }

    @Test
    void resultsDoNotDependOnThreadCountAndAcceptOffsetViews() {
        Random r = new Random(55);
        int saved = Parallel.threads();
        try (var scope = MemoryScope.open()) {
            // contiguous views that start past element 0 of their storage
            Tensor x = rand(r, 2, 40, 129).narrow(0, 3, 33), w = rand(r, 1, 2, 129).select(0, 1);
            Tensor q = rand(r, 1, 9, 8, 64).narrow(0, 2, 5), k = rand(r, 1, 70, 2, 64).narrow(0, 1, 64), v = rand(r, 1, 70, 2, 64).narrow(0, 3, 64);
            Tensor wm = rand(r, 1, 300, 129).narrow(0, 7, 257), xv = rand(r, 1, 2, 129).select(0, 1);
            RopeTables tab = Fused.ropeTables(64, 80, 10000, null);
            Tensor[][] results = new Tensor[2][];
            int[] threads = {1, 3};
            for (int run = 0; run < 2; run++) {
                Parallel.setThreads(threads[run]);
                results[run] = new Tensor[] {
                    Fused.rmsNorm(x, w, 1e-5), Fused.attention(q, k, v, 50, 0), Fused.attention(q, k, v, 50, 17),
                    Fused.gemv(wm, xv), Fused.rope(q, tab, 11, true), Fused.rope(q, tab, 11, false), Fused.swiglu(x, x),
                    x.sum(0, false), x.softmax(1), x.t().contiguous()
                };
            }
            for (int i = 0; i < results[0].length; i++)
                assertArrayEquals(results[0][i].toFloatArray(), results[1][i].toFloatArray(), "result " + i + " differs between 1 and 3 threads");
            // and the offset views give what their contiguous copies give
            assertArrayEquals(Fused.rmsNorm(x.copy(), w.copy(), 1e-5).toFloatArray(), results[0][0].toFloatArray());
            assertArrayEquals(Fused.attention(q.copy(), k.copy(), v.copy(), 50, 0).toFloatArray(), results[0][1].toFloatArray());
            assertArrayEquals(Fused.gemv(wm.copy(), xv.copy()).toFloatArray(), results[0][3].toFloatArray());
        } finally {
            Parallel.setThreads(saved);
        }
    }

    @Test
    void gemvMatchesReference() {
        Random r = new Random(54);
        for (int out : ODD)
            for (int in : ODD)
                try (var scope = MemoryScope.open()) {
                    Tensor w = rand(r, 1, out, in), x = rand(r, 1, in);
                    Tensor y = Fused.gemv(w, x);
                    assertArrayEquals(new int[] {out}, y.shape());
                    for (int o = 0; o < out; o++) {
                        double s = 0;
                        for (int i = 0; i < in; i++) s += w.get(o, i) * x.get(i);
                        close(s, y.get(o), 1e-5, "gemv " + out + "x" + in);
                    }
                }
        try (var scope = MemoryScope.open()) {
            Tensor w = rand(r, 1, 2051, 777), x = rand(r, 1, 777);
            Tensor y = Fused.gemv(w, x), ref = w.matmul(x);
            float[] a = y.toFloatArray(), b = ref.toFloatArray();
            for (int i = 0; i < a.length; i++) close(b[i], a[i], 1e-5, "gemv vs matmul");
            var e = assertThrows(IllegalArgumentException.class, () -> Fused.gemv(w, Tensor.zeros(DType.F32, 776)));
            assertTrue(e.getMessage().contains("[2051, 777]") && e.getMessage().contains("[776]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Fused.gemv(w.t(), x));
        }
    }
}
