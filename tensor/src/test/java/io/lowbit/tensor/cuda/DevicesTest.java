package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.Backend;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.CpuBackend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** --device resolution and backend dispatch; runs on every machine and checks whichever answer the probe gave. */
class DevicesTest {
    private static long liveAtStart;

    @BeforeAll
    static void start() {
        liveAtStart = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(liveAtStart, Allocator.liveBytes(), "host live bytes after DevicesTest");
    }

    @Test
    void cpuIsAlwaysThere() {
        List<String> log = new ArrayList<>();
        assertEquals(Device.CPU, Devices.resolve("cpu", log::add));
        assertEquals(1, log.size(), "one line: " + log);
        assertTrue(log.get(0).startsWith("lowbit: device cpu (requested with --device cpu; cpu backend, "), log.get(0));
        assertSame(CpuBackend.INSTANCE, Backend.of(Device.CPU));
        try (var _ = MemoryScope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2, 3}, 3);
            assertArrayEquals(new float[] {2, 4, 6}, a.backend().binary(io.lowbit.tensor.BinaryOp.ADD, a, a).toFloatArray());
        }
    }

    @Test
    void autoSaysWhichBackendAndWhy() {
        List<String> log = new ArrayList<>();
        Device d = Devices.resolve("auto", log::add);
        CudaStatus st = CudaProbe.status();
        assertEquals(1, log.size(), "auto explains itself in exactly one line: " + log);
        if (st.available()) {
            assertEquals(Device.CUDA, d);
            assertEquals("lowbit: device cuda (auto: " + st.describe() + ")", log.get(0));
        } else {
            assertEquals(Device.CPU, d);
            assertEquals("lowbit: device cpu (auto: CUDA unavailable: " + st.reason() + ")", log.get(0));
        }
        assertEquals(d, Devices.resolve(" AUTO ", s -> {}), "case and spaces do not matter");
        assertEquals(d, Devices.resolve(null, s -> {}), "no --device means auto");
    }

    @Test
    void explicitCudaFailsLoudlyWhenAbsent() {
        CudaStatus st = CudaProbe.status();
        if (st.available()) {
            assertEquals(Device.CUDA, Devices.resolve("cuda", s -> {}));
            assertEquals("cuda:0", Backend.of(Device.CUDA).name());
        } else {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Devices.resolve("cuda", s -> {}));
            assertEquals("--device cuda requested but CUDA unavailable: " + st.reason(), e.getMessage());
            IllegalStateException b = assertThrows(IllegalStateException.class, () -> Backend.of(Device.CUDA));
            assertTrue(b.getMessage().contains(st.reason()), b.getMessage());
        }
    }

    @Test
    void unknownDeviceIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.resolve("gpu", s -> {}));
        assertEquals("unknown device 'gpu'; expected auto, cpu or cuda", e.getMessage());
    }

    @Test
    void toCpuOfACpuTensorIsACopy() {
        try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3); Tensor t = a.t(); Tensor c = Devices.to(t, Device.CPU)) {
            assertNotSame(a.storage(), c.storage());
            assertTrue(c.isContiguous());
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, c.toFloatArray());
        }
    }
}
