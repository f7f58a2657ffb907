package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The probe runs here (no GPU) as well as on a GPU machine: it must answer, once, and never throw. */
class CudaProbeTest {
    private static long liveAtStart;

    @BeforeAll
    static void start() {
        liveAtStart = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(liveAtStart, Allocator.liveBytes(), "host live bytes after CudaProbeTest");
    }

    @Test
    void probeAnswersOnceWithoutThrowing() {
        CudaStatus a = assertDoesNotThrow(CudaProbe::status);
        assertSame(a, CudaProbe.status(), "the probe runs once and its answer is kept");
        if (a.available()) {
            assertTrue(a.deviceCount() > 0);
            assertFalse(a.deviceName().isBlank());
            assertTrue(a.ccMajor() >= 3, "compute capability " + a.ccMajor() + "." + a.ccMinor());
            assertTrue(a.totalMemory() > 0);
            assertEquals("", a.reason());
        } else {
            assertFalse(a.reason().isBlank(), "an unavailable status names its reason");
            assertEquals(0, a.deviceCount());
            assertEquals("CUDA unavailable: " + a.reason(), a.describe());
        }
    }

    @Test
    void withoutDriverTheReasonIsTheRuntimeErrorAndTheMissingDriver() {
        CudaStatus s = CudaProbe.status();
        if (s.driverVersion() == 0 && s.runtimeVersion() > 0) {
            // the situation on machines with JCuda's natives but no NVIDIA driver (these build machines)
            assertFalse(s.available());
            assertEquals("cudaGetDeviceCount returned cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version);"
                    + " no NVIDIA driver found (libcuda.so.1 missing, driver version 0)", s.reason());
        } else {
            assertTrue(s.driverVersion() > 0 || !s.available(), "a working CUDA reports a driver version: " + s);
        }
    }

    @Test
    void missingLibraryIsCutFromJCudasLoaderMessage() {
        String jcudaMessage = """
                Error while loading native library "JCublas2-12.6.0-linux-x86_64"
                Operating system name: Linux
                Stack trace from the attempt to load the library as a resource:
                java.lang.UnsatisfiedLinkError: /tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublas.so.12: cannot open shared object file: No such file or directory
                """;
        assertEquals("libcublas.so.12 not found (cannot open shared object file)", CudaProbe.shortCause(new UnsatisfiedLinkError(jcudaMessage)));
        assertEquals("UnsatisfiedLinkError: first line", CudaProbe.shortCause(new UnsatisfiedLinkError("first line\nsecond")));
    }

    @Test
    void describeOfAnAvailableDevice() {
        CudaStatus s = new CudaStatus(true, "", 2, "NVIDIA A100-SXM4-40GB", 8, 0, 40L << 30, 12040, 12060);
        assertEquals("CUDA available: 2 device(s); device 0 = NVIDIA A100-SXM4-40GB (sm_80, 40.0 GiB), driver 12.4, runtime 12.6", s.describe());
        assertEquals("none", CudaStatus.version(0));
        assertEquals("11.8", CudaStatus.version(11080));
    }
}
