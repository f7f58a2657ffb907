package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** sum/mean/max/min/argmax along every dim, sumTo, softmax/logSoftmax vs double references. */
class ReductionTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after ReductionTest"); }

    private static final int[][] SHAPES = {{1}, {7}, {1000}, {31, 33}, {3, 65, 7}, {2, 1, 129}, {63, 1}};

    /** Reference reduction over dim of x (logical contents), output in keepdim=false row-major order. */
    private static double[] reference(ReduceOp op, Tensor x, int dim) {
        int[] s = x.shape();
        int len = s[dim];
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= s[i];
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        double[] out = new double[(int) (outer * inner)];
        for (long o = 0; o < outer; o++)
            for (long in = 0; in < inner; in++) {
                double acc = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0;
                int best = 0;
                for (int j = 0; j < len; j++) {
                    double v = x.getDouble((o * len + j) * inner + in);
                    switch (op) {
                        case SUM, MEAN -> acc += v;
                        case MAX -> acc = Math.max(acc, v);
                        case MIN -> acc = Math.min(acc, v);
                        case ARGMAX -> { if (j == 0 || v > acc) { acc = v; best = j; } }
                    }
                }
                out[(int) (o * inner + in)] = op == ReduceOp.MEAN ? acc / len : op == ReduceOp.ARGMAX ? best : acc;
            }
        return out;
    }

    private static Tensor run(ReduceOp op, Tensor x, int dim, boolean keepdim) {
        return switch (op) {
            case SUM -> x.sum(dim, keepdim);
            case MEAN -> x.mean(dim, keepdim);
            case MAX -> x.max(dim, keepdim);
            case MIN -> x.min(dim, keepdim);
            case ARGMAX -> x.argmax(dim, keepdim);
        };
    }

    @Test
    void everyReductionAlongEveryDim() {
        Random r = new Random(10);
        for (int[] shape : SHAPES)
            for (DType dt : new DType[] {DType.F32, DType.F64})
                for (boolean transposed : new boolean[] {false, true})
                    for (ReduceOp op : ReduceOp.values())
                        for (int dim = 0; dim < shape.length; dim++)
                            for (boolean keepdim : new boolean[] {false, true}) {
                                if (transposed && shape.length < 2) continue;
                                try (var scope = MemoryScope.open()) {
                                    Tensor x;
                                    if (transposed) { // same logical shape, permuted memory
                                        int[] rev = new int[shape.length];
                                        for (int i = 0; i < shape.length; i++) rev[i] = shape[shape.length - 1 - i];
                                        int[] order = new int[shape.length];
                                        for (int i = 0; i < shape.length; i++) order[i] = shape.length - 1 - i;
                                        x = rand(dt, r, -3, 3, rev).permute(order);
                                    } else {
                                        x = rand(dt, r, -3, 3, shape);
                                    }
                                    Tensor y = run(op, x, dim, keepdim);
                                    int[] want = keepdim ? shape.clone() : new int[shape.length - 1];
                                    if (keepdim) want[dim] = 1;
                                    else for (int i = 0, j = 0; i < shape.length; i++) if (i != dim) want[j++] = shape[i];
                                    String what = op + " " + dt + s(shape) + " dim " + dim + " keepdim " + keepdim + (transposed ? " transposed" : "");
                                    assertArrayEquals(want, y.shape(), what);
                                    assertEquals(op == ReduceOp.ARGMAX ? DType.I32 : dt, y.dtype(), what);
                                    double tol = dt == DType.F64 ? 1e-12 : 2e-5;
                                    assertAllClose(reference(op, x, dim), y, tol, tol, what);
                                }
                            }
    }

    @Test
    void negativeDimAndFullReductions() {
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.of(new double[] {1, 5, 2, 8, 3, 0}, 2, 3);
            assertArrayEquals(new double[] {8, 11}, x.sum(-1, false).toDoubleArray());
            assertEquals(19, x.sum().item());
            assertEquals(0, x.sum().dim());
            assertEquals(19 / 6.0, x.mean().item(), 1e-15);
            assertEquals(19, x.t().sum().item()); // non-contiguous full sum
            assertEquals(8, x.absMax());
            assertArrayEquals(new int[] {1, 0}, x.argmax(1, false).toIntArray());
            // ties: first index wins
            Tensor ties = Tensor.of(new float[] {3, 7, 7, 1}, 4);
            assertEquals(1, ties.argmax(0, false).item());
            // NaN propagates through max/min and argmax points at it
            Tensor nan = Tensor.of(new float[] {1, Float.NaN, 9, 2}, 4);
            assertTrue(Double.isNaN(nan.max(0, false).item()));
            assertTrue(Double.isNaN(nan.min(0, false).item()));
            assertEquals(1, nan.argmax(0, false).item());
            assertThrows(IllegalArgumentException.class, () -> x.sum(2, false));
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.F32, 0, 3).max(0, false));
            assertArrayEquals(new float[] {0, 0, 0}, Tensor.zeros(DType.F32, 0, 3).sum(0, false).toFloatArray());
        }
    }

    @Test
    void longF32SumsStayAccurate() {
        // regression: one float accumulator per lane over 2M values drifted by ~6e-5 relative
        int n = 2_000_003;
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.empty(DType.F32, n);
            double want = 0;
            for (int i = 0; i < n; i++) {
                float v = 0.1f + (i % 7) * 0.01f;
                x.setDouble(i, v);
                want += v;
            }
            assertClose(want, x.sum().item(), 1e-7, 0, "sum of " + n);
            assertClose(want / n, x.mean().item(), 1e-7, 0, "mean of " + n);
        }
    }

    @Test
    void columnReductionsWithoutCopy() {
        // reductions over a leading dim of a contiguous F32 tensor fold whole rows together: accuracy over many
        // rows, NaN propagation, and contiguous views that start past element 0
        int n = 20_001;
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.empty(DType.F32, n, 3);
            double[] want = new double[3];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 3; j++) {
                    float v = 0.1f + ((i + j) % 7) * 0.01f;
                    x.setDouble(i * 3L + j, v);
                    want[j] += v;
                }
            Tensor sum = x.sum(0, false);
            for (int j = 0; j < 3; j++) assertClose(want[j], sum.getDouble(j), 1e-7, 0, "column sum " + j);
            x.setDouble(7 * 3 + 1, Float.NaN);
            assertTrue(Double.isNaN(x.max(0, false).getDouble(1)));
            assertTrue(Double.isNaN(x.min(0, true).getDouble(1)));
            assertFalse(Double.isNaN(x.max(0, false).getDouble(0)));
            Tensor big = rand(DType.F32, new Random(13), -1, 1, 5, 3, 2100); // spans of 256 with a ragged tail
            Tensor view = big.narrow(0, 1, 3); // contiguous, offset 3*2100
            assertAllClose(reference(ReduceOp.SUM, view, 1), view.sum(1, false), 1e-5, 1e-5, "sum of offset view");
            assertAllClose(reference(ReduceOp.MAX, view, 0), view.max(0, false), 0, 0, "max of offset view");
            assertAllClose(reference(ReduceOp.MEAN, big, 0), big.mean(0, true), 1e-6, 1e-6, "mean keepdim");
        }
    }

    @Test
    void vectorMaxMinPropagateNaN() {
        for (int at : new int[] {0, 5, 16, 39}) {
            try (var scope = MemoryScope.open()) {
                float[] v = new float[40];
                for (int i = 0; i < v.length; i++) v[i] = i - 20;
                v[at] = Float.NaN;
                Tensor x = Tensor.of(v, 40);
                assertTrue(Double.isNaN(x.max(0, false).item()), "NaN at " + at);
                assertTrue(Double.isNaN(x.min(0, false).item()), "NaN at " + at);
                v[at] = at - 20;
                assertEquals(19, Tensor.of(v, 40).max(0, false).item());
                assertEquals(-20, Tensor.of(v, 40).min(0, false).item());
            }
        }
    }

    @Test
    void fullSumOfNonContiguousDoesNotLeak() {
        // regression: sum()/mean() of a tensor whose flatten() copies must release that copy
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        long live = Allocator.liveBytes();
        Tensor s = x.t().sum();
        Tensor m = x.t().mean();
        assertEquals(21, s.item());
        assertEquals(3.5, m.item(), 1e-6);
        s.close();
        m.close();
        assertEquals(live, Allocator.liveBytes());
        x.close();
    }

    @Test
    void sumToUndoesBroadcasting() {
        Random r = new Random(11);
        int[][][] cases = {
            {{4, 5}, {5}}, {{4, 5}, {1, 5}}, {{4, 5}, {4, 1}}, {{3, 4, 5}, {4, 1}}, {{3, 4, 5}, {}}, {{2, 3}, {2, 3}},
            {{7, 1, 33}, {1, 1, 1}}, {{2, 3, 4}, {3, 4}}
        };
        for (int[][] c : cases)
            for (DType dt : new DType[] {DType.F32, DType.F64})
                try (var scope = MemoryScope.open()) {
                    int[] from = c[0], to = c[1];
                    Tensor x = rand(dt, r, -1, 1, from);
                    Tensor y = x.sumTo(to);
                    assertArrayEquals(to, y.shape(), s(from) + " -> " + s(to));
                    assertNotSame(x.storage(), y.storage());
                    double[] want = new double[(int) Shape.numel(to)];
                    for (long i = 0; i < x.numel(); i++) {
                        int[] pos = unravel(i, from);
                        int lead = from.length - to.length;
                        int[] p = new int[to.length];
                        for (int d = 0; d < to.length; d++) p[d] = to[d] == 1 ? 0 : pos[d + lead];
                        want[(int) ravel(p, to)] += x.getDouble(i);
                    }
                    assertAllClose(want, y, 1e-5, 1e-5, "sumTo " + s(from) + " -> " + s(to));
                }
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.zeros(DType.F32, 3, 4);
            var e = assertThrows(IllegalArgumentException.class, () -> x.sumTo(3));
            assertTrue(e.getMessage().contains("[3, 4]") && e.getMessage().contains("[3]"), e.getMessage());
        }
    }

    private static double[] softmaxRef(Tensor x, int dim, boolean log) {
        int[] s = x.shape();
        int len = s[dim];
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= s[i];
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        double[] out = new double[(int) x.numel()];
        for (long o = 0; o < outer; o++)
            for (long in = 0; in < inner; in++) {
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < len; j++) m = Math.max(m, x.getDouble((o * len + j) * inner + in));
                double sum = 0;
                for (int j = 0; j < len; j++) sum += Math.exp(x.getDouble((o * len + j) * inner + in) - m);
                for (int j = 0; j < len; j++) {
                    long i = (o * len + j) * inner + in;
                    double z = x.getDouble(i) - m;
                    out[(int) i] = log ? z - Math.log(sum) : Math.exp(z) / sum;
                }
            }
        return out;
    }

    @Test
    void softmaxAndLogSoftmaxAlongEveryDim() {
        Random r = new Random(12);
        int[][] shapes = {{7}, {31, 33}, {3, 65, 7}, {2, 129}, {1000}};
        for (int[] shape : shapes)
            for (DType dt : new DType[] {DType.F32, DType.F64})
                for (double scale : new double[] {1, 1e4})
                    for (int dim = 0; dim < shape.length; dim++)
                        for (boolean log : new boolean[] {false, true})
                            try (var scope = MemoryScope.open()) {
                                Tensor x = rand(dt, r, -5, 5, shape).mul(scale);
                                Tensor y = log ? x.logSoftmax(dim) : x.softmax(dim);
                                assertArrayEquals(shape, y.shape());
                                String what = (log ? "logSoftmax " : "softmax ") + dt + s(shape) + " dim " + dim + " scale " + scale;
                                double tol = dt == DType.F64 ? 1e-12 : 2e-6;
                                double[] want = softmaxRef(x, dim, log);
                                for (int i = 0; i < want.length; i++) {
                                    assertFalse(Double.isNaN(y.getDouble(i)), what + " NaN at " + i);
                                    // log-softmax error scales with |z|: allow a few float ulps of the shifted value
                                    double atol = log ? tol * (1 + Math.abs(want[i])) : tol;
                                    assertClose(want[i], y.getDouble(i), tol, atol, what + " at " + i);
                                }
                            }
    }

    @Test
    void softmaxOverLeadingDimOfLargeOffsetView() {
        // the column path: several 256-wide spans and a ragged one, several 128-row blocks, a view that starts past element 0
        Random r = new Random(14);
        try (var scope = MemoryScope.open()) {
            Tensor x = rand(DType.F32, r, -30, 30, 145, 2051).narrow(0, 3, 140);
            for (boolean log : new boolean[] {false, true}) {
                Tensor y = log ? x.logSoftmax(0) : x.softmax(0);
                double[] want = softmaxRef(x, 0, log);
                for (int i = 0; i < want.length; i++)
                    assertClose(want[i], y.getDouble(i), 3e-6, log ? 3e-6 * (1 + Math.abs(want[i])) : 3e-6, (log ? "log" : "") + "softmax at " + i);
            }
        }
    }

    @Test
    void logSoftmaxOfHugeValuesKeepsPrecision() {
        // regression: lse = m + log(sum) rounded to float lost ~ulp(m)/2 ≈ 0.03 at m = 1e6
        try (var scope = MemoryScope.open()) {
            float[] v = {1e6f, 1e6f + 1, 1e6f - 2, 1e6f + 0.5f};
            Tensor x = Tensor.of(v, 4);
            double m = 1e6 + 1, sum = 0;
            for (float f : v) sum += Math.exp(f - m);
            Tensor y = x.logSoftmax(0);
            for (int i = 0; i < 4; i++) assertClose((v[i] - m) - Math.log(sum), y.getDouble(i), 1e-6, 1e-6, "logSoftmax at " + i);
            Tensor p = Tensor.of(new float[] {-1e30f, 0, 1e30f, 3e38f}, 4).softmax(0);
            assertArrayEquals(new float[] {0, 0, 0, 1}, p.toFloatArray());
        }
    }
}
