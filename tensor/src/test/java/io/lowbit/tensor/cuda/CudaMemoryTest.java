package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.BackendCase.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import io.lowbit.tensor.testing.NoLeaks;

/** The device allocator's reuse and counters, and host↔device copies on both transfer paths (GPU only). */
@org.junit.jupiter.api.extension.ExtendWith(NoLeaks.class)
class CudaMemoryTest {

    @BeforeEach
    void needsCuda() {
        device("cuda");
    }

    @Test
    void blocksAreReusedBySizeAndCounted() {
        CudaBackend be = CudaBackend.instance();
        long live0 = CudaAllocator.ledger().liveBytes(), w0 = CudaAllocator.ledger().liveBytes(MemoryCategory.WEIGHTS);
        Tensor a = be.empty(DType.F32, MemoryCategory.WEIGHTS, 1000);
        assertEquals(live0 + CudaAllocator.rounded(4000), CudaAllocator.ledger().liveBytes());
        assertEquals(w0 + 4096, CudaAllocator.ledger().liveBytes(MemoryCategory.WEIGHTS));
        long addr = a.storage().deviceMemory().address();
        a.label(MemoryCategory.GRADIENTS);
        assertEquals(w0, CudaAllocator.ledger().liveBytes(MemoryCategory.WEIGHTS));
        a.close();
        assertEquals(live0, CudaAllocator.ledger().liveBytes());
        Tensor b = be.empty(DType.I32, MemoryCategory.ACTIVATIONS, 1001); // 4004 bytes: same 4096-byte block
        assertEquals(addr, b.storage().deviceMemory().address(), "a freed block of the same rounded size is handed out again");
        assertTrue(CudaAllocator.ledger().peakBytes() >= live0 + 4096);
        b.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, b::segment);
        assertTrue(e.getMessage().contains("after close"), e.getMessage());
    }

    @Test
    void roundTripsOnBothTransferPaths() {
        for (long n : new long[] {1, 7, 1025, (Transfers.STAGED_FROM / 4) + 33, 3 * Transfers.STAGE / 4 + 5}) {
            try (var _ = MemoryScope.open()) {
                Tensor x = Tensor.empty(DType.F32, (int) n);
                for (long i = 0; i < n; i++) x.setDouble(i, (i * 2654435761L % 1000003) / 7.0);
                Tensor d = Devices.to(x, Device.CUDA);
                assertEquals(Device.CUDA, d.device());
                IllegalStateException e = assertThrows(IllegalStateException.class, d::segment);
                assertTrue(e.getMessage().startsWith("tensor storage lives on CUDA"), e.getMessage());
                Tensor back = Devices.to(d, Device.CPU);
                assertArrayEquals(x.toFloatArray(), back.toFloatArray(), n + " floats through the device");
            }
        }
    }
}
