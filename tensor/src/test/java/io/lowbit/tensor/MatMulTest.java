package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** matmul: 2-D, batched, broadcast batch dims, 1-D operands, transposed views, F64, errors. */
class MatMulTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after MatMulTest"); }

    /** Reference: promotes 1-D operands and broadcasts batch dims exactly like NumPy. */
    private static double[] reference(Tensor a, Tensor b, int[] outShape) {
        int[] sa = a.shape(), sb = b.shape();
        boolean a1 = sa.length == 1, b1 = sb.length == 1;
        int m = a1 ? 1 : sa[sa.length - 2], k = sa[sa.length - 1], n = b1 ? 1 : sb[sb.length - 1];
        int ra = a1 ? 0 : sa.length - 2, rb = b1 ? 0 : sb.length - 2;
        int nb = Math.max(ra, rb);
        int[] batch = new int[nb];
        for (int d = 0; d < nb; d++) {
            int da = d - (nb - ra) >= 0 ? sa[d - (nb - ra)] : 1, db = d - (nb - rb) >= 0 ? sb[d - (nb - rb)] : 1;
            batch[d] = Math.max(da, db);
        }
        long batches = Shape.numel(batch);
        double[] out = new double[(int) (batches * m * n)];
        for (long bi = 0; bi < batches; bi++) {
            int[] pos = unravel(bi, batch);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) {
                        int[] ia = new int[sa.length], ib = new int[sb.length];
                        for (int d = 0; d < ra; d++) ia[d] = sa[d] == 1 ? 0 : pos[d + nb - ra];
                        for (int d = 0; d < rb; d++) ib[d] = sb[d] == 1 ? 0 : pos[d + nb - rb];
                        if (a1) ia[0] = p; else { ia[ra] = i; ia[ra + 1] = p; }
                        if (b1) ib[0] = p; else { ib[rb] = p; ib[rb + 1] = j; }
                        acc += a.get(ia) * b.get(ib);
                    }
                    out[(int) ((bi * m + i) * n + j)] = acc;
                }
        }
        assertEquals(out.length, Shape.numel(outShape));
        return out;
    }

    private static void check(Tensor a, Tensor b, int[] expectShape) {
        Tensor c = a.matmul(b);
        String what = "matmul " + a.dtype() + s(a.shape()) + " strides " + java.util.Arrays.toString(a.strides()) + " x "
                + s(b.shape()) + " strides " + java.util.Arrays.toString(b.strides());
        assertArrayEquals(expectShape, c.shape(), what);
        assertTrue(c.isContiguous());
        double tol = a.dtype() == DType.F64 ? 1e-12 : 1e-4;
        assertAllClose(reference(a, b, expectShape), c, tol, tol, what);
    }

    @Test
    void twoDimensionalOddShapesAllTransposeCombinations() {
        Random r = new Random(20);
        int[][] mnk = {{1, 1, 1}, {7, 31, 33}, {33, 7, 65}, {65, 63, 1}, {1, 129, 7}, {31, 1, 127}, {129, 33, 31}};
        for (DType dt : new DType[] {DType.F32, DType.F64})
            for (int[] s : mnk)
                for (boolean ta : new boolean[] {false, true})
                    for (boolean tb : new boolean[] {false, true})
                        try (var scope = MemoryScope.open()) {
                            int m = s[0], n = s[1], k = s[2];
                            Tensor a = ta ? rand(dt, r, -1, 1, k, m).t() : rand(dt, r, -1, 1, m, k);
                            Tensor b = tb ? rand(dt, r, -1, 1, n, k).t() : rand(dt, r, -1, 1, k, n);
                            check(a, b, new int[] {m, n});
                        }
    }

    @Test
    void narrowedAndExpandedOperands() {
        Random r = new Random(21);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            try (var scope = MemoryScope.open()) {
                Tensor a = rand(dt, r, -1, 1, 9, 40).narrow(1, 3, 33).narrow(0, 1, 7); // row gaps, offset
                Tensor b = rand(dt, r, -1, 1, 33, 20).narrow(1, 2, 5);
                check(a, b, new int[] {7, 5});
                Tensor rowExpanded = rand(dt, r, -1, 1, 1, 33).expand(7, 33); // stride 0 rows: must be copied
                check(rowExpanded, b, new int[] {7, 5});
                Tensor perm = rand(dt, r, -1, 1, 5, 33, 7).permute(2, 1, 0).select(2, 3); // strides (1, 7*5?)
                check(perm, b, new int[] {7, 5});
            }
    }

    @Test
    void batchedAndBroadcastBatchDims() {
        Random r = new Random(22);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            try (var scope = MemoryScope.open()) {
                check(rand(dt, r, -1, 1, 3, 7, 5), rand(dt, r, -1, 1, 3, 5, 9), new int[] {3, 7, 9});
                check(rand(dt, r, -1, 1, 2, 3, 7, 5), rand(dt, r, -1, 1, 5, 9), new int[] {2, 3, 7, 9});
                check(rand(dt, r, -1, 1, 7, 5), rand(dt, r, -1, 1, 4, 5, 9), new int[] {4, 7, 9});
                check(rand(dt, r, -1, 1, 2, 1, 7, 5), rand(dt, r, -1, 1, 3, 5, 9), new int[] {2, 3, 7, 9});
                // a contiguous stack against one (transposed) weight: the batch is folded into the rows
                check(rand(dt, r, -1, 1, 3, 33, 65), rand(dt, r, -1, 1, 129, 65).t(), new int[] {3, 33, 129});
                check(rand(dt, r, -1, 1, 2, 31, 63), rand(dt, r, -1, 1, 63, 1), new int[] {2, 31, 1});
                // a strided stack (not foldable) against one weight
                check(rand(dt, r, -1, 1, 3, 40, 65).narrow(1, 2, 33), rand(dt, r, -1, 1, 65, 7), new int[] {3, 33, 7});
                // batched transposed views (attention's q·kᵀ)
                Tensor q = rand(dt, r, -1, 1, 2, 11, 4, 8).transpose(1, 2); // [2,4,11,8]
                Tensor k = rand(dt, r, -1, 1, 2, 13, 4, 8).permute(0, 2, 3, 1); // [2,4,8,13]
                check(q, k, new int[] {2, 4, 11, 13});
            }
    }

    @Test
    void rowVectorTimesTransposedMatrix() {
        Random r = new Random(24);
        for (int k : new int[] {1, 7, 33, 129})
            for (int n : new int[] {1, 3, 4, 5, 65})
                try (var scope = MemoryScope.open()) {
                    Tensor x = rand(DType.F32, r, -1, 1, 1, k);
                    check(x, rand(DType.F32, r, -1, 1, n, k).t(), new int[] {1, n});
                    check(x, rand(DType.F32, r, -1, 1, n, k + 5).narrow(1, 2, k).t(), new int[] {1, n}); // W rows with gaps
                    check(rand(DType.F32, r, -1, 1, 2, 3, 1, k), rand(DType.F32, r, -1, 1, 3, n, k).transpose(1, 2), new int[] {2, 3, 1, n});
                    check(rand(DType.F32, r, -1, 1, k), rand(DType.F32, r, -1, 1, n, k).t(), new int[] {n});
                    check(rand(DType.F32, r, -1, 1, 3, k + 2).narrow(1, 1, k).narrow(0, 1, 1), rand(DType.F32, r, -1, 1, n, k).t(), new int[] {1, n});
                }
    }

    @Test
    void oneDimensionalOperands() {
        Random r = new Random(23);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            try (var scope = MemoryScope.open()) {
                check(rand(dt, r, -1, 1, 33), rand(dt, r, -1, 1, 33), new int[] {});
                check(rand(dt, r, -1, 1, 33), rand(dt, r, -1, 1, 33, 7), new int[] {7});
                check(rand(dt, r, -1, 1, 7, 33), rand(dt, r, -1, 1, 33), new int[] {7});
                check(rand(dt, r, -1, 1, 3, 7, 33), rand(dt, r, -1, 1, 33), new int[] {3, 7});
                check(rand(dt, r, -1, 1, 33), rand(dt, r, -1, 1, 3, 33, 7), new int[] {3, 7});
                Tensor dot = Tensor.of(new float[] {1, 2, 3}, 3).matmul(Tensor.of(new float[] {4, 5, 6}, 3));
                assertEquals(0, dot.dim());
                assertEquals(32, dot.item());
            }
    }

    @Test
    void emptyInnerDimensionGivesZeros() {
        try (var scope = MemoryScope.open()) {
            Tensor c = Tensor.zeros(DType.F32, 3, 0).matmul(Tensor.zeros(DType.F32, 0, 4));
            assertArrayEquals(new int[] {3, 4}, c.shape());
            assertArrayEquals(new float[12], c.toFloatArray());
        }
    }

    @Test
    void mismatchNamesBothShapes() {
        try (var scope = MemoryScope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 3, 4), b = Tensor.zeros(DType.F32, 5, 6);
            var e = assertThrows(IllegalArgumentException.class, () -> a.matmul(b));
            assertTrue(e.getMessage().contains("[3, 4]") && e.getMessage().contains("[5, 6]"), e.getMessage());
            Tensor c = Tensor.zeros(DType.F32, 2, 3, 4), d = Tensor.zeros(DType.F32, 3, 4, 5);
            var e2 = assertThrows(IllegalArgumentException.class, () -> c.matmul(d));
            assertTrue(e2.getMessage().contains("[2, 3, 4]") && e2.getMessage().contains("[3, 4, 5]"), e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class, () -> a.matmul(Tensor.zeros(DType.F64, 4, 2)));
            assertTrue(e3.getMessage().contains("F32") && e3.getMessage().contains("F64"), e3.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.matmul(Tensor.scalar(DType.F32, 1)));
        }
    }
}
