package io.lowbit.tensor.cuda;

/**
 * What the one CUDA probe found: available or not, and why.
 *
 * @param available      true when device 0 allocated, wrote and read back memory and cuBLAS and NVRTC loaded
 * @param reason         when unavailable, the exact failure (the CUDA error name or the missing library)
 * @param deviceCount    devices the runtime reported (0 when the call failed)
 * @param deviceName     device 0's name, or "" when none
 * @param ccMajor        compute capability major version of device 0 (0 when none)
 * @param ccMinor        compute capability minor version of device 0
 * @param totalMemory    device 0's global memory in bytes (0 when none)
 * @param driverVersion  CUDA driver version as 1000·major + 10·minor (0 when no driver is installed)
 * @param runtimeVersion CUDA runtime version JCuda was built against, same encoding (0 when unknown)
 */
public record CudaStatus(boolean available, String reason, int deviceCount, String deviceName, int ccMajor, int ccMinor,
                         long totalMemory, int driverVersion, int runtimeVersion) {

    static CudaStatus unavailable(String reason, int driverVersion, int runtimeVersion) {
        return new CudaStatus(false, reason, 0, "", 0, 0, 0, driverVersion, runtimeVersion);
    }

    /** One line for logs and {@code lowbit doctor}. */
    public String describe() {
        if (!available) return "CUDA unavailable: " + reason;
        return String.format("CUDA available: %d device(s); device 0 = %s (sm_%d%d, %.1f GiB), driver %s, runtime %s",
                deviceCount, deviceName, ccMajor, ccMinor, totalMemory / (double) (1L << 30),
                version(driverVersion), version(runtimeVersion));
    }

    /** 12060 → "12.6". */
    static String version(int v) {
        return v <= 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }
}
