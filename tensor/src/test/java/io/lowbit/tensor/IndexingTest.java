package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** indexSelect, gather, scatterAdd, indexAddInPlace and cat against reference loops. */
class IndexingTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after IndexingTest"); }

    private static Tensor randomIndex(Random r, int bound, int... shape) {
        Tensor t = Tensor.empty(DType.I32, shape);
        for (long i = 0; i < t.numel(); i++) t.setDouble(i, r.nextInt(bound));
        return t;
    }

    @Test
    void indexSelectAlongEveryDim() {
        Random r = new Random(30);
        int[] shape = {7, 5, 33};
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16, DType.I32})
            for (int dim = 0; dim < 3; dim++)
                for (boolean transposedInput : new boolean[] {false, true})
                    try (var scope = MemoryScope.open()) {
                        Tensor x = transposedInput ? rand(dt, r, -9, 9, 33, 5, 7).permute(2, 1, 0) : rand(dt, r, -9, 9, shape);
                        Tensor idx = randomIndex(r, shape[dim], 2, 3); // 2-D index: out gets both dims
                        Tensor y = x.indexSelect(dim, idx);
                        int[] want = new int[4];
                        for (int d = 0, j = 0; d < 3; d++) {
                            if (d == dim) { want[j++] = 2; want[j++] = 3; } else want[j++] = shape[d];
                        }
                        assertArrayEquals(want, y.shape());
                        for (long i = 0; i < y.numel(); i++) {
                            int[] p = unravel(i, want);
                            int[] src = new int[3];
                            for (int d = 0, j = 0; d < 3; d++) {
                                if (d == dim) { src[d] = (int) idx.get(p[j], p[j + 1]); j += 2; } else src[d] = p[j++];
                            }
                            assertEquals(x.get(src), y.getDouble(i), 0, "indexSelect " + dt + " dim " + dim);
                        }
                    }
        try (var scope = MemoryScope.open()) {
            Tensor emb = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
            assertArrayEquals(new float[] {20, 21, 0, 1, 20, 21}, emb.indexSelect(0, Tensor.of(new int[] {2, 0, 2}, 3)).toFloatArray());
            var e = assertThrows(IndexOutOfBoundsException.class, () -> emb.indexSelect(0, Tensor.of(new int[] {0, 3}, 2)));
            assertTrue(e.getMessage().contains("3"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> emb.indexSelect(0, Tensor.of(new int[] {-1}, 1)));
            assertThrows(IllegalArgumentException.class, () -> emb.indexSelect(0, Tensor.of(new float[] {0}, 1)));
        }
    }

    @Test
    void gatherAndScatterAddAreInverse() {
        Random r = new Random(31);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            for (int dim = 0; dim < 2; dim++)
                try (var scope = MemoryScope.open()) {
                    Tensor x = rand(dt, r, -5, 5, 7, 31);
                    int[] is = dim == 0 ? new int[] {9, 31} : new int[] {7, 5};
                    Tensor idx = randomIndex(r, x.size(dim), is);
                    Tensor g = x.gather(dim, idx);
                    assertArrayEquals(is, g.shape());
                    for (long i = 0; i < g.numel(); i++) {
                        int[] p = unravel(i, is);
                        p[dim] = (int) idx.getDouble(i);
                        assertEquals(x.get(p), g.getDouble(i), 0, "gather dim " + dim);
                    }
                    Tensor src = rand(dt, r, -1, 1, is);
                    Tensor base = rand(dt, r, -1, 1, 7, 31);
                    Tensor sc = base.scatterAdd(dim, idx, src);
                    double[] want = base.toDoubleArray();
                    for (long i = 0; i < src.numel(); i++) {
                        int[] p = unravel(i, is);
                        p[dim] = (int) idx.getDouble(i);
                        want[(int) ravel(p, new int[] {7, 31})] += src.getDouble(i);
                    }
                    assertAllClose(want, sc, 1e-6, 1e-6, "scatterAdd dim " + dim);
                    assertNotSame(base.storage(), sc.storage()); // scatterAdd returns a copy
                }
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.zeros(DType.F32, 2, 3);
            var e = assertThrows(IndexOutOfBoundsException.class, () -> x.gather(1, Tensor.of(new int[] {0, 3}, 2, 1)));
            assertTrue(e.getMessage().contains("3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> x.gather(1, Tensor.of(new int[] {0}, 1)));
            assertThrows(IndexOutOfBoundsException.class, () -> x.scatterAdd(0, Tensor.of(new int[] {2}, 1, 1), Tensor.zeros(DType.F32, 1, 1)));
            assertThrows(IllegalArgumentException.class, () -> x.scatterAdd(0, Tensor.of(new int[] {0}, 1, 1), Tensor.zeros(DType.F32, 1, 2)));
        }
    }

    @Test
    void indexAddInPlaceWithDuplicates() {
        Random r = new Random(32);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            for (int width : new int[] {1, 7, 33, 129})
                try (var scope = MemoryScope.open()) {
                    Tensor dst = rand(dt, r, -1, 1, 11, width);
                    double[] want = dst.toDoubleArray();
                    Tensor idx = Tensor.of(new int[] {3, 0, 3, 10, 3, 5, 0}, 7);
                    Tensor src = rand(dt, r, -1, 1, 7, width);
                    for (int i = 0; i < 7; i++)
                        for (int j = 0; j < width; j++) want[(int) idx.getDouble(i) * width + j] += src.get(i, j);
                    assertSame(dst, dst.indexAddInPlace(idx, src));
                    assertAllClose(want, dst, 1e-6, 1e-6, "indexAdd " + dt + " width " + width);
                    // into a transposed destination (writes through the view)
                    Tensor base = Tensor.zeros(dt, width, 11);
                    base.t().indexAddInPlace(idx, src);
                    double[] w2 = new double[11 * width];
                    for (int i = 0; i < 7; i++) for (int j = 0; j < width; j++) w2[(int) idx.getDouble(i) * width + j] += src.get(i, j);
                    assertAllClose(w2, base.t(), 1e-6, 1e-6, "indexAdd into transposed " + dt);
                }
        try (var scope = MemoryScope.open()) {
            Tensor dst = Tensor.zeros(DType.F32, 4, 2);
            assertThrows(IndexOutOfBoundsException.class, () -> dst.indexAddInPlace(Tensor.of(new int[] {4}, 1), Tensor.zeros(DType.F32, 1, 2)));
            var e = assertThrows(IllegalArgumentException.class, () -> dst.indexAddInPlace(Tensor.of(new int[] {1, 2}, 2), Tensor.zeros(DType.F32, 3, 2)));
            assertTrue(e.getMessage().contains("[2]") && e.getMessage().contains("[3, 2]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> dst.indexAddInPlace(Tensor.of(new int[] {1}, 1), Tensor.zeros(DType.F32, 1, 3)));
        }
    }

    @Test
    void failedCallsLeakNothingAndLeaveDstUntouched() {
        // regression: gather/scatterAdd allocated their output before finding a bad index shape
        Tensor x = Tensor.zeros(DType.F32, 2, 3);
        Tensor tall = Tensor.of(new int[] {0, 0, 0}, 3, 1), src3 = Tensor.zeros(DType.F32, 3, 1);
        long live = Allocator.liveBytes();
        assertThrows(IndexOutOfBoundsException.class, () -> x.gather(1, tall));
        assertThrows(IndexOutOfBoundsException.class, () -> x.scatterAdd(1, tall, src3));
        assertEquals(live, Allocator.liveBytes(), "a rejected gather/scatterAdd allocates nothing");
        tall.close();
        src3.close();
        // regression: indexAdd with rows that do not fit threw after updating earlier rows
        Tensor dst = Tensor.zeros(DType.F32, 3, 2);
        Tensor idx = Tensor.of(new int[] {0, 1}, 2), src = Tensor.full(DType.F32, 1, 2, 3);
        assertThrows(IllegalArgumentException.class, () -> dst.indexAddInPlace(idx, src));
        assertArrayEquals(new float[6], dst.toFloatArray());
        dst.close(); idx.close(); src.close(); x.close();
    }

    @Test
    void catAlongEveryDim() {
        Random r = new Random(33);
        for (int dim = 0; dim < 3; dim++)
            try (var scope = MemoryScope.open()) {
                int[] s1 = {2, 3, 4}, s2 = {2, 3, 4}, s3 = {2, 3, 4};
                s1[dim] = 1; s2[dim] = 5; s3[dim] = 2;
                Tensor a = rand(DType.F32, r, -1, 1, s1), b = rand(DType.F32, r, -1, 1, s2), c = rand(DType.F32, r, -1, 1, s3);
                Tensor bt = b.contiguous(); // also cat a transposed view
                int[] rev = {s2[2], s2[1], s2[0]};
                Tensor bT = Tensor.empty(DType.F32, rev).permute(2, 1, 0);
                bT.copyFrom(bt);
                Tensor y = Tensor.cat(dim - 3, a, bT, c);
                int[] ys = {2, 3, 4};
                ys[dim] = 8;
                assertArrayEquals(ys, y.shape());
                for (long i = 0; i < y.numel(); i++) {
                    int[] p = unravel(i, ys);
                    int at = p[dim];
                    Tensor src = at < 1 ? a : at < 6 ? b : c;
                    p[dim] = at < 1 ? at : at < 6 ? at - 1 : at - 6;
                    assertEquals(src.get(p), y.getDouble(i), 0, "cat dim " + dim);
                }
            }
        try (var scope = MemoryScope.open()) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.cat(0, Tensor.zeros(DType.F32, 2, 3), Tensor.zeros(DType.F32, 2, 4)));
            assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[2, 4]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.cat(0, Tensor.zeros(DType.F32, 2), Tensor.zeros(DType.F64, 2)));
            assertThrows(IllegalArgumentException.class, () -> Tensor.cat(0));
        }
    }
}
