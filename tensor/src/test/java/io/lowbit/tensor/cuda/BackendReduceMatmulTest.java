package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.BackendCase.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.ReduceOp;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import io.lowbit.tensor.testing.NoLeaks;

/** Reductions, sumTo, softmax and matmul on every backend, against plain reference loops. */
@org.junit.jupiter.api.extension.ExtendWith(NoLeaks.class)
class BackendReduceMatmulTest {

    static java.util.stream.Stream<String> backends() {
        return BackendCase.backends();
    }

    // reference reduction of x (shape s) along dim
    private static double[] reduceRef(ReduceOp op, double[] x, int[] s, int dim) {
        long inner = 1, outer = 1;
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        for (int i = 0; i < dim; i++) outer *= s[i];
        int len = s[dim];
        double[] out = new double[(int) (outer * inner)];
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < inner; k++) {
                double acc = op == ReduceOp.SUM || op == ReduceOp.MEAN ? 0 : x[(int) (o * len * inner + k)];
                int best = 0;
                for (int j = 0; j < len; j++) {
                    double v = x[(int) ((o * len + j) * inner + k)];
                    switch (op) {
                        case SUM, MEAN -> acc += v;
                        case MAX -> acc = Double.isNaN(acc) || Double.isNaN(v) ? Double.NaN : Math.max(acc, v);
                        case MIN -> acc = Double.isNaN(acc) || Double.isNaN(v) ? Double.NaN : Math.min(acc, v);
                        case ARGMAX -> { if (v > acc || (Double.isNaN(v) && !Double.isNaN(acc))) { acc = v; best = j; } }
                    }
                }
                out[(int) (o * inner + k)] = op == ReduceOp.MEAN ? acc / len : op == ReduceOp.ARGMAX ? best : acc;
            }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void reductionsAlongEveryDimension(String backend) {
        Device d = device(backend);
        Random r = new Random(5);
        int[] s = {7, 33, 5};
        double[] v = uniform(r, 7 * 33 * 5, -4, 4);
        v[40] = v[41]; // a tie: argmax takes the first
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (var _ = MemoryScope.open()) {
                Tensor x0 = f32(v, s);
                Tensor x = on(t == DType.F32 ? x0 : x0.to(DType.F64), d);
                for (ReduceOp op : ReduceOp.values())
                    for (int dim = 0; dim < 3; dim++)
                        for (boolean keep : new boolean[] {false, true}) {
                            int[] os = keep ? s.clone() : new int[2];
                            if (keep) os[dim] = 1;
                            else for (int i = 0, j = 0; i < 3; i++) if (i != dim) os[j++] = s[i];
                            Tensor got = x.backend().reduce(op, x, dim, keep);
                            assertEquals(op == ReduceOp.ARGMAX ? DType.I32 : t, got.dtype());
                            assertClose(reduceRef(op, v, s, dim), os, got, 1e-5, 1e-5, op + " dim " + dim + " keep " + keep + " " + t + " on " + backend);
                        }
                // a permuted (strided) input reduces like its contiguous copy
                Tensor p = x.permute(2, 0, 1);
                double[] pv = host(p.contiguous());
                assertClose(reduceRef(ReduceOp.SUM, pv, new int[] {5, 7, 33}, 1), new int[] {5, 33}, p.sum(1, false), 1e-5, 1e-5,
                        "sum of a permuted view " + t + " on " + backend);
            }
        }
        try (var _ = MemoryScope.open()) {
            // one long row: the whole-tensor sum and a NaN that MAX and ARGMAX must report
            double[] big = uniform(r, 129 * 65, -1, 1);
            Tensor b = on(f32(big, 129 * 65), d);
            double want = 0;
            for (double x : big) want += x;
            assertEquals(want, host(b.sum())[0], 1e-3, "sum of 8385 values on " + backend);
            assertEquals(want / big.length, host(b.mean())[0], 1e-6, "mean of 8385 values on " + backend);
            Tensor n = on(Tensor.of(new float[] {1, 5, Float.NaN, 7, Float.NaN}, 5), d);
            assertTrue(Double.isNaN(host(n.max(0, false))[0]), "max with NaN on " + backend);
            assertEquals(2, host(n.argmax(0, false))[0], "argmax takes the first NaN on " + backend);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void sumToUndoesBroadcasting(String backend) {
        Device d = device(backend);
        Random r = new Random(6);
        int[] s = {7, 5, 33};
        double[] v = uniform(r, 7 * 5 * 33, -1, 1);
        int[][] targets = {{5, 1}, {33}, {1, 1, 33}, {7, 5, 33}, {7, 1, 1}, {}};
        try (var _ = MemoryScope.open()) {
            Tensor x = on(f32(v, s), d);
            for (int[] t : targets) {
                double[] want = new double[(int) Shape.numel(t)];
                for (int i = 0; i < v.length; i++) want[(int) broadcastIndex(unravel(i, s), t)] += v[i];
                assertClose(want, t, x.sumTo(t), 1e-5, 1e-5, "sumTo " + Arrays.toString(t) + " on " + backend);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.sumTo(4));
            assertTrue(e.getMessage().contains("[7, 5, 33]"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void softmaxAndLogSoftmax(String backend) {
        Device d = device(backend);
        Random r = new Random(7);
        int[] s = {7, 33, 5};
        double[] v = uniform(r, 7 * 33 * 5, -5, 5);
        for (int j = 0; j < 5; j++) v[j] = 1000 + j; // large values: must be max-subtracted
        try (var _ = MemoryScope.open()) {
            Tensor x = on(f32(v, s), d);
            for (int dim = 0; dim < 3; dim++) {
                long inner = 1, outer = 1;
                for (int i = dim + 1; i < 3; i++) inner *= s[i];
                for (int i = 0; i < dim; i++) outer *= s[i];
                double[] sm = new double[v.length], lsm = new double[v.length];
                for (long o = 0; o < outer; o++)
                    for (long k = 0; k < inner; k++) {
                        double m = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int j = 0; j < s[dim]; j++) m = Math.max(m, v[(int) ((o * s[dim] + j) * inner + k)]);
                        for (int j = 0; j < s[dim]; j++) sum += Math.exp(v[(int) ((o * s[dim] + j) * inner + k)] - m);
                        for (int j = 0; j < s[dim]; j++) {
                            int e = (int) ((o * s[dim] + j) * inner + k);
                            sm[e] = Math.exp(v[e] - m) / sum;
                            lsm[e] = v[e] - m - Math.log(sum);
                        }
                    }
                assertClose(sm, s, x.softmax(dim), 1e-5, 1e-7, "softmax dim " + dim + " on " + backend);
                assertClose(lsm, s, x.logSoftmax(dim), 1e-5, 1e-5, "logSoftmax dim " + dim + " on " + backend);
            }
        }
    }

    // reference batched matmul with NumPy broadcasting of batch dimensions
    private static double[] matmulRef(double[] a, int[] sa, double[] b, int[] sb, int[] outShape) {
        int m = sa[sa.length - 2], k = sa[sa.length - 1], n = sb[sb.length - 1];
        int[] batch = Arrays.copyOf(outShape, outShape.length - 2);
        int[] ba = Arrays.copyOf(sa, sa.length - 2), bb = Arrays.copyOf(sb, sb.length - 2);
        long batches = Shape.numel(batch);
        double[] out = new double[(int) (batches * m * n)];
        for (long bi = 0; bi < batches; bi++) {
            int[] pos = unravel(bi, batch);
            long ao = broadcastIndex(pos, ba) * m * k, bo = broadcastIndex(pos, bb) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a[(int) (ao + i * k + p)] * b[(int) (bo + p * n + j)];
                    out[(int) (bi * m * n + i * n + j)] = s;
                }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void matmulShapesViewsAndBatches(String backend) {
        Device d = device(backend);
        Random r = new Random(8);
        int[][][] cases = {{{7, 33}, {33, 65}}, {{1, 1}, {1, 1}}, {{3, 7, 31}, {3, 31, 5}}, {{2, 3, 7, 31}, {31, 5}},
                {{2, 1, 7, 9}, {3, 9, 4}}, {{63, 127}, {127, 1}}, {{4, 1, 129}, {129, 33}}};
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int[][] c : cases) {
                try (var _ = MemoryScope.open()) {
                    int[] sa = c[0], sb = c[1];
                    double[] va = uniform(r, (int) Shape.numel(sa), -1, 1), vb = uniform(r, (int) Shape.numel(sb), -1, 1);
                    Tensor a0 = f32(va, sa), b0 = f32(vb, sb);
                    Tensor a = on(t == DType.F32 ? a0 : a0.to(t), d), b = on(t == DType.F32 ? b0 : b0.to(t), d);
                    int[] batch = Shape.broadcast(Arrays.copyOf(sa, sa.length - 2), Arrays.copyOf(sb, sb.length - 2));
                    int[] os = Arrays.copyOf(batch, batch.length + 2);
                    os[batch.length] = sa[sa.length - 2];
                    os[batch.length + 1] = sb[sb.length - 1];
                    double tol = t == DType.F32 ? 1e-5 : 1e-12;
                    String what = Arrays.toString(sa) + "·" + Arrays.toString(sb) + " " + t + " on " + backend;
                    assertClose(matmulRef(va, sa, vb, sb, os), os, a.matmul(b), tol, tol, what);
                    // the same product through transposed views of stored transposes (no copy on either backend)
                    if (sa.length == 2 && sb.length == 2) {
                        Tensor at = on(a0.t().contiguous(), d).to(t), bt = on(b0.t().contiguous(), d).to(t);
                        assertClose(matmulRef(va, sa, vb, sb, os), os, at.t().matmul(bt.t()), tol, tol, what + " via transposed views");
                    }
                }
            }
        }
        try (var _ = MemoryScope.open()) {
            // 1-D operands: vector·matrix, matrix·vector, vector·vector
            double[] vm = uniform(r, 7 * 5, -1, 1), vv = uniform(r, 7, -1, 1), vw = uniform(r, 5, -1, 1);
            Tensor m = on(f32(vm, 7, 5), d), v = on(f32(vv, 7), d), w = on(f32(vw, 5), d);
            double[] vmw = new double[5], mw = new double[7];
            double dot = 0;
            for (int i = 0; i < 7; i++) for (int j = 0; j < 5; j++) { vmw[j] += vv[i] * vm[i * 5 + j]; mw[i] += vm[i * 5 + j] * vw[j]; }
            for (int i = 0; i < 7; i++) dot += vv[i] * vv[i];
            assertClose(vmw, new int[] {5}, v.matmul(m), 1e-5, 1e-6, "vector·matrix on " + backend);
            assertClose(mw, new int[] {7}, m.matmul(w), 1e-5, 1e-6, "matrix·vector on " + backend);
            assertClose(new double[] {dot}, new int[] {}, v.matmul(v), 1e-5, 1e-6, "vector·vector on " + backend);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.matmul(m));
            assertEquals("matmul: shapes [7, 5] and [7, 5] do not align", e.getMessage());
        }
    }
}
