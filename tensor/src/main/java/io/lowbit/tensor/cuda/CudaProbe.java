package io.lowbit.tensor.cuda;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.nvrtc.JNvrtc;
import jcuda.runtime.JCuda;
import jcuda.runtime.cudaDeviceProp;
import jcuda.runtime.cudaError;
import jcuda.runtime.cudaMemcpyKind;

/**
 * Finds out, once per process, whether CUDA works here. Each step that can fail is tried in order (the
 * runtime's device count, device 0's properties, a 256-byte allocate/write/read round trip, the driver API,
 * cuBLAS, NVRTC); the first failure becomes the {@link CudaStatus#reason()}. Never throws: a missing
 * library shows up as a LinkageError from JCuda and is turned into its one-line cause.
 */
public final class CudaProbe {
    private CudaProbe() {}

    private static final class Holder {
        static final CudaStatus STATUS = probe();
    }

    /** The probe's result (the probe runs on the first call only). */
    public static CudaStatus status() {
        return Holder.STATUS;
    }

    private static CudaStatus probe() {
        int[] driver = {0}, runtime = {0}, count = {0};
        try {
            JCuda.cudaRuntimeGetVersion(runtime);
            JCuda.cudaDriverGetVersion(driver);
            int err = JCuda.cudaGetDeviceCount(count);
            if (err != cudaError.cudaSuccess) {
                String why = "cudaGetDeviceCount returned " + cudaError.stringFor(err) + " (" + JCuda.cudaGetErrorString(err) + ")";
                if (driver[0] == 0) why += "; no NVIDIA driver found (libcuda.so.1 missing, driver version 0)";
                return CudaStatus.unavailable(why, driver[0], runtime[0]);
            }
            if (count[0] == 0) return CudaStatus.unavailable("cudaGetDeviceCount found 0 devices", driver[0], runtime[0]);
            cudaDeviceProp prop = new cudaDeviceProp();
            check(JCuda.cudaGetDeviceProperties(prop, 0), "cudaGetDeviceProperties(0)");
            String name = prop.getName();
            check(JCuda.cudaSetDevice(0), "cudaSetDevice(0)");
            roundTrip();
            try {
                check(JCudaDriver.cuInit(0), "cuInit");
            } catch (LinkageError e) {
                return CudaStatus.unavailable("the CUDA driver API did not load: " + shortCause(e), driver[0], runtime[0]);
            }
            try {
                cublasHandle h = new cublasHandle();
                check(JCublas2.cublasCreate(h), "cublasCreate");
                JCublas2.cublasDestroy(h);
            } catch (LinkageError e) {
                return CudaStatus.unavailable("cuBLAS did not load: " + shortCause(e), driver[0], runtime[0]);
            }
            try {
                int[] major = {0}, minor = {0};
                check(JNvrtc.nvrtcVersion(major, minor), "nvrtcVersion");
            } catch (LinkageError e) {
                return CudaStatus.unavailable("NVRTC did not load: " + shortCause(e), driver[0], runtime[0]);
            }
            return new CudaStatus(true, "", count[0], name, prop.major, prop.minor, prop.totalGlobalMem, driver[0], runtime[0]);
        } catch (LinkageError e) {
            return CudaStatus.unavailable("the JCuda runtime did not load: " + shortCause(e), driver[0], runtime[0]);
        } catch (RuntimeException e) {
            return CudaStatus.unavailable(e.getMessage(), driver[0], runtime[0]);
        }
    }

    // 256 bytes to the device and back: proves memory and copies work before anything relies on them
    private static void roundTrip() {
        Pointer d = new Pointer();
        check(JCuda.cudaMalloc(d, 256), "cudaMalloc(256)");
        try {
            byte[] back = new byte[256];
            check(JCuda.cudaMemset(d, 0x2a, 256), "cudaMemset");
            check(JCuda.cudaMemcpy(Pointer.to(back), d, 256, cudaMemcpyKind.cudaMemcpyDeviceToHost), "cudaMemcpy DtoH");
            for (byte b : back) if (b != 0x2a) throw new IllegalStateException("device memory round trip read back " + b + " instead of 42");
        } finally {
            JCuda.cudaFree(d);
        }
    }

    private static void check(int err, String what) {
        if (err != 0) throw new IllegalStateException(what + " returned " + cudaError.stringFor(err));
    }

    private static final Pattern MISSING = Pattern.compile("(\\S+\\.so[.0-9]*): cannot open shared object file");

    /** The missing shared library out of JCuda's long loader message, or its first line. */
    static String shortCause(Throwable e) {
        String m = String.valueOf(e.getMessage());
        Matcher x = MISSING.matcher(m);
        if (x.find()) return x.group(1) + " not found (cannot open shared object file)";
        int nl = m.indexOf('\n');
        return e.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl));
    }
}
