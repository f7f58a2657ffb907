package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** NumPy broadcasting: trailing alignment, size-1 stretch, new leading dims, 0-d scalars, errors. */
class BroadcastTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after BroadcastTest"); }

    /** Element of a (shape sa) that broadcasts to position pos of the output (rank >= sa.length). */
    private static double at(Tensor a, int[] pos) {
        int[] sa = a.shape();
        int lead = pos.length - sa.length;
        int[] p = new int[sa.length];
        for (int d = 0; d < sa.length; d++) p[d] = sa[d] == 1 ? 0 : pos[d + lead];
        return a.get(p);
    }

    private static void check(int[] sa, int[] sb, int[] expected) {
        Random r = new Random(sa.length * 31 + sb.length);
        for (DType dt : new DType[] {DType.F32, DType.F64})
            try (var scope = MemoryScope.open()) {
                Tensor a = rand(dt, r, -2, 2, sa), b = rand(dt, r, -2, 2, sb);
                assertArrayEquals(expected, Shape.broadcast(sa, sb), s(sa) + " vs " + s(sb));
                for (BinaryOp op : new BinaryOp[] {BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX}) {
                    Tensor y = switch (op) {
                        case SUB -> a.sub(b);
                        case MUL -> a.mul(b);
                        default -> a.maximum(b);
                    };
                    assertArrayEquals(expected, y.shape());
                    for (long i = 0; i < y.numel(); i++) {
                        int[] pos = unravel(i, expected);
                        double want = op.apply(at(a, pos), at(b, pos));
                        if (dt == DType.F32) want = (float) want;
                        assertEquals(want, y.getDouble(i), 0, op + " " + s(sa) + " with " + s(sb) + " at " + s(pos));
                    }
                }
            }
    }

    @Test
    void trailingAlignmentAndSizeOneStretch() {
        check(new int[] {4, 5}, new int[] {5}, new int[] {4, 5});
        check(new int[] {5}, new int[] {4, 5}, new int[] {4, 5});
        check(new int[] {3, 1, 5}, new int[] {4, 5}, new int[] {3, 4, 5});
        check(new int[] {7, 1}, new int[] {1, 33}, new int[] {7, 33});
        check(new int[] {1, 33}, new int[] {7, 1}, new int[] {7, 33});
        check(new int[] {2, 1, 65}, new int[] {3, 1}, new int[] {2, 3, 65});
        check(new int[] {1}, new int[] {31}, new int[] {31});
        check(new int[] {2, 3, 1, 1}, new int[] {1, 1, 4, 9}, new int[] {2, 3, 4, 9});
    }

    /** A tensor with logical shape {@code shape} whose memory layout is a random permutation. */
    private static Tensor randomLayout(DType dt, Random r, int[] shape) {
        int rank = shape.length;
        int[] order = new int[rank];
        for (int i = 0; i < rank; i++) order[i] = i;
        for (int i = rank - 1; i > 0; i--) { int j = r.nextInt(i + 1); int t = order[i]; order[i] = order[j]; order[j] = t; }
        int[] stored = new int[rank];
        for (int i = 0; i < rank; i++) stored[i] = shape[order[i]];
        Tensor t = rand(dt, r, -2, 2, stored);
        int[] inverse = new int[rank];
        for (int i = 0; i < rank; i++) inverse[order[i]] = i;
        return t.permute(inverse);
    }

    @Test
    void randomShapesAndLayoutsFuzz() {
        Random r = new Random(77);
        for (int trial = 0; trial < 300; trial++)
            try (var scope = MemoryScope.open()) {
                int rank = r.nextInt(5);
                int[] out = new int[rank];
                for (int i = 0; i < rank; i++) out[i] = 1 + r.nextInt(6);
                int[][] ops = new int[2][];
                for (int k = 0; k < 2; k++) { // drop leading dims, set some dims to 1
                    int rk = r.nextInt(rank + 1);
                    ops[k] = new int[rk];
                    for (int i = 0; i < rk; i++) ops[k][i] = r.nextInt(3) == 0 ? 1 : out[rank - rk + i];
                }
                int[] expected = Shape.broadcast(ops[0], ops[1]);
                DType dt = r.nextBoolean() ? DType.F32 : DType.F64;
                Tensor a = randomLayout(dt, r, ops[0]), b = randomLayout(dt, r, ops[1]);
                Tensor y = a.mul(b).add(b);
                assertArrayEquals(expected, y.shape());
                for (long i = 0; i < y.numel(); i++) {
                    int[] pos = unravel(i, expected);
                    double av = at(a, pos), bv = at(b, pos);
                    double want = dt == DType.F32 ? (float) ((float) (av * bv) + bv) : av * bv + bv;
                    assertEquals(want, y.getDouble(i), 0, s(ops[0]) + " with " + s(ops[1]) + " at " + s(pos));
                }
                Tensor acc = randomLayout(dt, r, expected);
                double[] before = acc.toDoubleArray();
                acc.addInPlace(b, 0.5);
                for (long i = 0; i < acc.numel(); i++) {
                    double want = before[(int) i] + 0.5 * at(b, unravel(i, expected));
                    assertEquals(dt == DType.F32 ? (float) want : want, acc.getDouble(i), dt == DType.F32 ? 1e-6 : 1e-15, "addInPlace");
                }
            }
    }

    @Test
    void scalarZeroD() {
        check(new int[] {}, new int[] {2, 3}, new int[] {2, 3});
        check(new int[] {7, 3}, new int[] {}, new int[] {7, 3});
        check(new int[] {}, new int[] {}, new int[] {});
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2, 3}, 3);
            Tensor c = Tensor.scalar(DType.F32, 10);
            assertEquals(0, c.dim());
            assertArrayEquals(new float[] {11, 12, 13}, x.add(c).toFloatArray());
            assertArrayEquals(new float[] {9, 8, 7}, c.sub(x).toFloatArray());
        }
    }

    @Test
    void zeroSizedDimensionsBroadcast() {
        try (var scope = MemoryScope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 0, 3), b = Tensor.zeros(DType.F32, 1, 3);
            Tensor y = a.add(b);
            assertArrayEquals(new int[] {0, 3}, y.shape());
            assertEquals(0, y.numel());
        }
    }

    @Test
    void incompatibleShapesNameBoth() {
        try (var scope = MemoryScope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 2, 3), b = Tensor.zeros(DType.F32, 3, 2);
            var e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
            Tensor c = Tensor.zeros(DType.F32, 4, 1, 5), d = Tensor.zeros(DType.F32, 3, 4);
            var e2 = assertThrows(IllegalArgumentException.class, () -> c.mul(d));
            assertTrue(e2.getMessage().contains("[4, 1, 5]") && e2.getMessage().contains("[3, 4]"), e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class, () -> a.addInPlace(Tensor.zeros(DType.F32, 2, 1, 3)));
            assertTrue(e3.getMessage().contains("[2, 1, 3]") && e3.getMessage().contains("[2, 3]"), e3.getMessage());
            // in-place and copy targets never grow: [3] cannot be written from [2, 3]
            var e4 = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(DType.F32, 3).copyFrom(a));
            assertTrue(e4.getMessage().contains("[2, 3]") && e4.getMessage().contains("[3]"), e4.getMessage());
        }
    }

    @Test
    void copyFromBroadcastsSource() {
        try (var scope = MemoryScope.open()) {
            Tensor dst = Tensor.zeros(DType.F64, 2, 3);
            dst.copyFrom(Tensor.of(new double[] {1, 2, 3}, 3));
            assertArrayEquals(new double[] {1, 2, 3, 1, 2, 3}, dst.toDoubleArray());
            dst.copyFrom(Tensor.of(new double[] {7, 8}, 2, 1));
            assertArrayEquals(new double[] {7, 7, 7, 8, 8, 8}, dst.toDoubleArray());
        }
    }
}
