package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Factories, element access and small helpers on exact cases. */
class FactoryTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after FactoryTest"); }

    @Test
    void factoriesFillAsSpecified() {
        try (var scope = MemoryScope.open()) {
            assertArrayEquals(new float[] {2.5f, 2.5f, 2.5f, 2.5f}, Tensor.full(DType.F32, 2.5, 2, 2).toFloatArray());
            assertArrayEquals(new int[] {0, 1, 2, 3, 4}, Tensor.arange(5).toIntArray());
            assertEquals(DType.I32, Tensor.arange(5).dtype());
            Tensor like = Tensor.zerosLike(Tensor.full(DType.F64, 7, 3, 1));
            assertEquals(DType.F64, like.dtype());
            assertArrayEquals(new int[] {3, 1}, like.shape());
            assertArrayEquals(new double[3], like.toDoubleArray());
            Tensor s = Tensor.scalar(DType.BF16, 1.0 + 0x1p-9);
            assertEquals(0, s.dim());
            assertEquals(1.0, s.item()); // rounded to bf16
            assertEquals(MemoryCategory.WEIGHTS, Tensor.zeros(DType.F32, MemoryCategory.WEIGHTS, 2).category());
            var e = assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {1, 2, 3}, 2, 2));
            assertTrue(e.getMessage().contains("3") && e.getMessage().contains("[2, 2]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.of(new double[] {1}, 2));
            assertThrows(IllegalArgumentException.class, () -> Tensor.of(new int[] {1}, 0));
            Tensor empty = Tensor.empty(DType.F32, 0, 5);
            assertEquals(0, empty.numel());
            assertArrayEquals(new float[0], empty.toFloatArray());
        }
    }

    @Test
    void elementAccessAndHelpers() {
        try (var scope = MemoryScope.open()) {
            Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            assertEquals(6, t.get(1, 2));
            assertEquals(5, t.t().get(1, 1));
            assertEquals(3, t.t().get(2, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0));
            assertThrows(IllegalArgumentException.class, () -> t.get(1));
            assertThrows(IllegalStateException.class, t::item);
            assertEquals(3, t.size(-1));
            assertEquals(1, t.stride(-1));
            assertArrayEquals(new int[] {-2, -1, 0, 1, 2}, Tensor.of(new double[] {-2.7, -1.2, 0.9, 1.5, 2.999}, 5).toIntArray(),
                    "toIntArray truncates toward zero");
            assertTrue(t.allClose(t.copy(), 0, 0));
            Tensor u = t.copy();
            u.setDouble(4, 5.001);
            assertFalse(u.allClose(t, 0, 1e-4));
            assertTrue(u.allClose(t, 0, 2e-3));
            assertTrue(u.allClose(t, 1e-3, 0));
            assertFalse(t.allClose(t.reshape(3, 2), 1, 1), "shapes differ");
            u.setDouble(0, Double.NaN);
            assertFalse(u.allClose(u, 1, 1), "NaN is never close");
            assertEquals("Tensor(F32[2, 3] [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])", t.toString());
            assertEquals(6, t.absMax());
            assertEquals(7, Tensor.of(new float[] {3, -7, 2}, 3).absMax());
            assertArrayEquals(new float[] {-1, 0.5f, 2}, Tensor.of(new float[] {-3, 0.5f, 9}, 3).clamp(-1, 2).toFloatArray());
        }
    }
}
