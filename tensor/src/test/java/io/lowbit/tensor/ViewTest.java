package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Views share storage and write through; copies happen only when the layout demands one. */
class ViewTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after ViewTest"); }

    private static Tensor iota(int... shape) {
        Tensor t = Tensor.empty(DType.F32, shape);
        for (long i = 0; i < t.numel(); i++) t.setDouble(i, i);
        return t;
    }

    @Test
    void viewsShareStorageAndWriteThrough() {
        try (var scope = MemoryScope.open()) {
            Tensor x = iota(2, 3, 4);
            Tensor[] views = {
                x.reshape(6, 4), x.view(4, -1), x.transpose(0, 2), x.permute(2, 0, 1), x.narrow(1, 1, 2),
                x.select(1, 2), x.unsqueeze(0), x.unsqueeze(3), x.narrow(0, 1, 1).squeeze(0), x.flatten(),
                x.select(0, 1).expand(5, 3, 4)
            };
            for (Tensor v : views) assertSame(x.storage(), v.storage(), "view " + v);
            // write through a transposed, narrowed view and read through the base
            Tensor v = x.transpose(0, 2).narrow(1, 1, 2); // shape [4, 2, 2]; v[a][b][c] = x[c][b+1][a]
            v.setDouble(TestSupport.ravel(new int[] {3, 1, 0}, v.shape()), -1);
            assertEquals(-1, x.get(0, 2, 3));
            x.select(1, 2).fill(9); // x[:, 2, :] = 9
            for (int a = 0; a < 2; a++) for (int c = 0; c < 4; c++) assertEquals(9, x.get(a, 2, c));
            assertEquals(9, x.permute(2, 0, 1).get(1, 1, 2)); // = x[1][2][1]
            assertEquals(x.get(1, 0, 3), x.reshape(6, 4).get(3, 3));
            assertEquals(x.get(1, 2, 3), x.unsqueeze(1).get(1, 0, 2, 3));
            assertEquals(x.get(1, 1, 2), x.narrow(1, 1, 2).get(1, 0, 2));
            assertEquals(x.get(1, 1, 2), x.select(0, 1).expand(5, 3, 4).get(4, 1, 2));
        }
    }

    @Test
    void closingAViewKeepsTheBaseAlive() {
        try (var scope = MemoryScope.open()) {
            Tensor x = iota(3, 4);
            x.t().close();
            x.reshape(12).close();
            assertFalse(x.isClosed());
            assertEquals(11, x.get(2, 3));
        }
    }

    @Test
    void contiguousCopiesOnlyWhenNeeded() {
        try (var scope = MemoryScope.open()) {
            Tensor x = iota(3, 5);
            assertSame(x, x.contiguous());
            assertSame(x.reshape(15).storage(), x.reshape(15).contiguous().storage());
            Tensor t = x.t();
            assertFalse(t.isContiguous());
            Tensor tc = t.contiguous();
            assertNotSame(t.storage(), tc.storage());
            assertTrue(tc.isContiguous());
            for (int i = 0; i < 5; i++) for (int j = 0; j < 3; j++) assertEquals(x.get(j, i), tc.get(i, j));
            // size-1 dimensions do not make a tensor non-contiguous, whatever their stride
            Tensor col = iota(7, 1);
            assertTrue(col.t().isContiguous(), "transpose of a [7,1] column is a contiguous [1,7] row");
            assertTrue(iota(3, 4).unsqueeze(1).isContiguous());
            assertTrue(iota(3, 4).narrow(0, 1, 1).isContiguous());
            assertFalse(iota(3, 4).narrow(1, 1, 2).isContiguous());
        }
    }

    @Test
    void contiguousOfPermutedViewsAllDTypes() {
        // the cache-blocked transpose copy against element-by-element reads, on shapes that cut tiles oddly
        java.util.Random r = new java.util.Random(5);
        int[][] shapes = {{129, 31}, {33, 65}, {1, 7}, {7, 1}, {3, 33, 65}, {2, 3, 63, 127}};
        for (DType dt : DType.values())
            for (int[] shape : shapes)
                try (var scope = MemoryScope.open()) {
                    Tensor x = Tensor.empty(dt, shape);
                    for (long i = 0; i < x.numel(); i++) x.setDouble(i, r.nextInt(200) - (dt == DType.U8 ? 0 : 100));
                    int n = shape.length;
                    int[] order = new int[n];
                    for (int i = 0; i < n; i++) order[i] = i;
                    order[n - 1] = n - 2;
                    order[n - 2] = n - 1;
                    Tensor[] views = {x.permute(order), x.permute(order).narrow(n - 1, 0, Math.max(1, shape[n - 2] / 2))};
                    if (n >= 3) views = new Tensor[] {views[0], views[1], x.permute(order).select(0, shape[0] - 1)};
                    for (Tensor v : views) {
                        Tensor c = v.contiguous();
                        assertTrue(c.isContiguous());
                        for (long i = 0; i < v.numel(); i++) assertEquals(v.getDouble(i), c.getDouble(i), dt + s(shape) + " at " + i);
                    }
                    if (dt == DType.F32 || dt == DType.F64) { // ops on large transposed operands take the copy-first path
                        Tensor t = x.permute(order);
                        Tensor sum = t.add(t.contiguous()), ex = t.mul(2.0);
                        for (long i = 0; i < t.numel(); i++) {
                            assertEquals(2 * t.getDouble(i), sum.getDouble(i), 0, "add " + dt + s(shape));
                            assertEquals(2 * t.getDouble(i), ex.getDouble(i), 0, "mul " + dt + s(shape));
                        }
                    }
                }
    }

    @Test
    void reshapeOfTransposedCopiesAndViewRefuses() {
        try (var scope = MemoryScope.open()) {
            Tensor x = iota(3, 4);
            Tensor t = x.t(); // [4,3]
            var e = assertThrows(IllegalArgumentException.class, () -> t.view(12));
            assertTrue(e.getMessage().contains("[4, 3]") && e.getMessage().contains("[12]"), e.getMessage());
            Tensor r = t.reshape(12);
            assertNotSame(x.storage(), r.storage());
            float[] want = new float[12];
            for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) want[i * 3 + j] = (float) x.get(j, i);
            assertArrayEquals(want, r.toFloatArray());
            // a reshape that only splits or merges dims of a transposed tensor stays a view
            Tensor x3 = iota(2, 3, 4).permute(2, 0, 1); // [4,2,3] strides [1,12,4]
            Tensor split = x3.reshape(2, 2, 2, 3);
            assertSame(x3.storage(), split.storage());
            Tensor merged = x3.reshape(4, 6); // dims 0,1 of x3's source merge: 2*3 contiguous? strides [12,4] and 3: 12 == 4*3 yes
            assertSame(x3.storage(), merged.storage());
            for (long i = 0; i < 24; i++) assertEquals(x3.getDouble(i), merged.getDouble(i));
            assertThrows(IllegalArgumentException.class, () -> x.view(5, -1));
            assertThrows(IllegalArgumentException.class, () -> x.view(-1, -1));
            assertThrows(IllegalArgumentException.class, () -> x.reshape(7));
            // the copy made by reshape is owned: closing it releases its bytes
            long live = Allocator.liveBytes();
            Tensor c = t.reshape(2, 6);
            assertTrue(Allocator.liveBytes() > live);
            c.close();
            assertEquals(live, Allocator.liveBytes());
        }
    }

    @Test
    void reshapeFuzzAgainstCopyThenReshape() {
        // random layouts (permuted, narrowed, with size-1 dims) reshaped to random factorizations: the values
        // must always equal those of a contiguous copy, and a view must share storage
        java.util.Random r = new java.util.Random(6);
        for (int trial = 0; trial < 400; trial++)
            try (var scope = MemoryScope.open()) {
                int rank = 1 + r.nextInt(4);
                int[] shape = new int[rank];
                for (int i = 0; i < rank; i++) shape[i] = 1 + r.nextInt(4);
                Tensor base = iota(shape);
                Tensor v = base;
                if (r.nextBoolean()) { // permute
                    java.util.List<Integer> order = new java.util.ArrayList<>();
                    for (int i = 0; i < rank; i++) order.add(i);
                    java.util.Collections.shuffle(order, r);
                    v = v.permute(order.stream().mapToInt(Integer::intValue).toArray());
                }
                if (r.nextBoolean()) { // narrow one dim
                    int d = r.nextInt(rank);
                    int len = 1 + r.nextInt(v.size(d));
                    v = v.narrow(d, r.nextInt(v.size(d) - len + 1), len);
                }
                if (r.nextBoolean()) v = v.unsqueeze(r.nextInt(v.dim() + 1));
                // random target: split numel into up to 4 factors (with 1s sprinkled in)
                int n = (int) v.numel();
                java.util.List<Integer> target = new java.util.ArrayList<>();
                int rest = n;
                for (int f = 2; f <= rest; ) {
                    if (rest % f == 0 && r.nextInt(3) > 0) { target.add(f); rest /= f; } else f++;
                }
                if (rest > 1) target.add(rest);
                if (r.nextBoolean()) target.add(r.nextInt(target.size() + 1), 1);
                int[] ts = target.stream().mapToInt(Integer::intValue).toArray();
                Tensor c = v.contiguous();
                Tensor got = v.reshape(ts);
                assertArrayEquals(ts, got.shape());
                for (long i = 0; i < n; i++)
                    assertEquals(c.getDouble(i), got.getDouble(i), "reshape " + s(v.shape()) + " strides " + java.util.Arrays.toString(v.strides()) + " -> " + s(ts));
                long[] st = Shape.reshapeStrides(v.shape(), v.strides(), ts);
                if (st != null) assertSame(base.storage(), got.storage(), "a possible view must not copy");
                else assertNotSame(base.storage(), got.storage());
                if (v.isContiguous()) assertNotNull(st, "a contiguous tensor always reshapes as a view");
            }
    }

    @Test
    void reshapeStridesEdgeCases() {
        // contiguous: any factorization
        assertArrayEquals(new long[] {12, 4, 1}, Shape.reshapeStrides(new int[] {6, 4}, new long[] {4, 1}, new int[] {2, 3, 4}));
        // size-1 dims anywhere in source or target
        assertArrayEquals(new long[] {4, 4, 1}, Shape.reshapeStrides(new int[] {3, 1, 4}, new long[] {4, 99, 1}, new int[] {3, 1, 4}));
        long[] st = Shape.reshapeStrides(new int[] {1, 5}, new long[] {7, 1}, new int[] {5, 1, 1});
        assertEquals(1, st[0]);
        // transposed: merging the two dims is impossible, splitting one is fine
        assertNull(Shape.reshapeStrides(new int[] {4, 3}, new long[] {1, 4}, new int[] {12}));
        assertArrayEquals(new long[] {2, 1, 4}, Shape.reshapeStrides(new int[] {4, 3}, new long[] {1, 4}, new int[] {2, 2, 3}));
        // narrowed rows (gaps) merge only within a row
        assertNull(Shape.reshapeStrides(new int[] {3, 4}, new long[] {9, 1}, new int[] {12}));
        assertArrayEquals(new long[] {9, 2, 1}, Shape.reshapeStrides(new int[] {3, 4}, new long[] {9, 1}, new int[] {3, 2, 2}));
        // expanded (stride 0) dims split fine
        assertArrayEquals(new long[] {0, 0, 1}, Shape.reshapeStrides(new int[] {6, 5}, new long[] {0, 1}, new int[] {2, 3, 5}));
        // empty and single-element tensors reshape freely
        assertArrayEquals(Shape.contiguousStrides(new int[] {3, 0}), Shape.reshapeStrides(new int[] {0, 3}, new long[] {3, 1}, new int[] {3, 0}));
        assertArrayEquals(new long[] {1, 1, 1}, Shape.reshapeStrides(new int[] {1}, new long[] {5}, new int[] {1, 1, 1}));
        assertArrayEquals(new long[] {}, Shape.reshapeStrides(new int[] {1, 1}, new long[] {3, 3}, new int[] {}));
        // inferReshape
        assertArrayEquals(new int[] {2, 6}, Shape.inferReshape(new int[] {3, 4}, new int[] {2, -1}));
        assertThrows(IllegalArgumentException.class, () -> Shape.inferReshape(new int[] {3, 4}, new int[] {5, -1}));
        assertThrows(IllegalArgumentException.class, () -> Shape.inferReshape(new int[] {0, 4}, new int[] {0, -1}));
    }

    @Test
    void expandUnsqueezeSqueezeSelect() {
        try (var scope = MemoryScope.open()) {
            Tensor x = iota(3, 1);
            Tensor e = x.expand(2, 3, 4);
            assertArrayEquals(new long[] {0, 1, 0}, e.strides());
            assertEquals(2, e.get(1, 2, 3));
            assertArrayEquals(new int[] {3, 4}, x.expand(-1, 4).shape());
            var ex = assertThrows(IllegalArgumentException.class, () -> x.expand(3, 4).expand(2, 5));
            assertTrue(ex.getMessage().contains("[3, 4]") && ex.getMessage().contains("[2, 5]"), ex.getMessage());
            assertThrows(IllegalArgumentException.class, () -> x.expand(4));
            assertThrows(IllegalArgumentException.class, () -> x.expand(-1, 3, 4));
            assertArrayEquals(new int[] {3, 1, 1}, x.unsqueeze(-1).shape());
            assertArrayEquals(new int[] {1, 3, 1}, x.unsqueeze(0).shape());
            assertArrayEquals(new int[] {3}, x.squeeze(1).shape());
            assertThrows(IllegalArgumentException.class, () -> x.squeeze(0));
            assertArrayEquals(new int[] {1}, x.select(0, 2).shape());
            assertEquals(2, x.select(0, 2).item());
            assertThrows(IndexOutOfBoundsException.class, () -> x.select(0, 3));
            // regression: flat indices past the view's end used to read neighbouring storage silently
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(0, 0, 2).getDouble(2));
            assertThrows(IndexOutOfBoundsException.class, () -> x.getDouble(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(0, 2, 2));
            assertThrows(IllegalArgumentException.class, () -> x.permute(0, 0));
            assertThrows(IllegalArgumentException.class, () -> x.transpose(0, 2));
            Tensor s = Tensor.scalar(DType.F64, 4);
            assertArrayEquals(new int[] {1}, s.unsqueeze(0).shape());
            assertEquals(4, s.unsqueeze(0).get(0));
        }
    }

    @Test
    void useAfterCloseThrows() {
        Tensor x = iota(4);
        Tensor v = x.reshape(2, 2);
        x.close();
        assertTrue(x.isClosed());
        assertThrows(IllegalStateException.class, () -> x.getDouble(0));
        assertThrows(IllegalStateException.class, () -> v.add(v));
        x.close(); // idempotent
    }
}
