package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class TensorSmokeTest {
    @AfterAll
    static void noLeak() {
        assertEquals(0, Allocator.liveBytes(), "live bytes after TensorSmokeTest");
    }

    @Test
    void broadcastAddMatmulSoftmax() {
        try (var scope = MemoryScope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor b = Tensor.of(new float[] {10, 20, 30}, 3);
            assertArrayEquals(new float[] {11, 22, 33, 14, 25, 36}, a.add(b).toFloatArray());
            Tensor c = a.matmul(a.t());
            assertArrayEquals(new float[] {14, 32, 32, 77}, c.toFloatArray());
            Tensor s = a.softmax(1);
            assertEquals(1.0, s.sum(1, false).getDouble(0), 1e-6);
            assertArrayEquals(new float[] {5, 7, 9}, a.sum(0, false).toFloatArray());
            assertArrayEquals(new int[] {2, 2}, a.argmax(1, false).toIntArray());
        }
    }
}
