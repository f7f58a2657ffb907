package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The kernels' Layout struct and the batch-stride rule, checked against Tensor's own indexing. */
class LayoutTest {
    private static long liveAtStart;

    @BeforeAll
    static void start() {
        liveAtStart = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(liveAtStart, Allocator.liveBytes(), "host live bytes after LayoutTest");
    }

    @Test
    void layoutIndexesLikeTheTensor() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.arange(7 * 5 * 3).reshape(7, 5, 3);
            Tensor[] views = {base, base.transpose(0, 2), base.narrow(1, 1, 3), base.select(1, 4), base.permute(2, 0, 1).narrow(2, 2, 3),
                    base.narrow(0, 6, 1).expand(4, 5, 3), base.unsqueeze(1), Tensor.scalar(io.lowbit.tensor.DType.F32, 2)};
            for (Tensor v : views) {
                long[] l = Layout.of(v);
                for (long i = 0; i < v.numel(); i++) assertEquals(v.elementIndex(i), Layout.at(l, i), "view " + v + " index " + i);
            }
        }
    }

    @Test
    void structIsRankOffsetShapesStrides() {
        long[] l = Layout.of(new int[] {2, 3}, new long[] {1, 2}, 5);
        assertEquals(18, l.length);
        assertEquals(2, l[0]);
        assertEquals(5, l[1]);
        assertEquals(2, l[2]);
        assertEquals(3, l[3]);
        assertEquals(1, l[10]);
        assertEquals(2, l[11]);
        assertArrayEquals(Layout.of(new int[] {4, 1, 3}, new long[] {3, 3, 1}, 0), Layout.contiguous(new int[] {4, 1, 3}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Layout.of(new int[9], new long[9], 0));
        assertEquals("CUDA kernels take at most 8 dimensions, got shape [0, 0, 0, 0, 0, 0, 0, 0, 0]", e.getMessage());
    }

    @Test
    void uniformBatchStrides() {
        assertEquals(0, CudaMatMul.uniformBatchStride(new int[] {}, new long[] {}));
        assertEquals(12, CudaMatMul.uniformBatchStride(new int[] {2, 3}, new long[] {36, 12}), "contiguous [2,3,m,k]");
        assertEquals(0, CudaMatMul.uniformBatchStride(new int[] {2, 3}, new long[] {0, 0}), "broadcast weight: stride 0");
        assertEquals(-1, CudaMatMul.uniformBatchStride(new int[] {2, 3}, new long[] {12, 0}), "broadcast over the inner batch only");
        assertEquals(12, CudaMatMul.uniformBatchStride(new int[] {1, 3}, new long[] {99, 12}), "size-1 dimensions do not matter");
        assertEquals(-1, CudaMatMul.uniformBatchStride(new int[] {2, 3}, new long[] {12, 36}), "permuted batch dims");
    }

    @Test
    void matrixLayoutDetection() {
        assertArrayEquals(new long[] {0, 5}, CudaMatMul.layout(3, 5, 5, 1), "row-major");
        assertArrayEquals(new long[] {1, 3}, CudaMatMul.layout(3, 5, 1, 3), "transposed view");
        assertNull(CudaMatMul.layout(3, 5, 10, 2), "gapped columns need a copy");
    }
}
