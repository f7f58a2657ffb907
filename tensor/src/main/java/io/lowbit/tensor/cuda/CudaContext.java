package io.lowbit.tensor.cuda;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.nvrtc.JNvrtc;
import jcuda.runtime.JCuda;

/**
 * Device 0's primary context, shared by the runtime API (memory, copies, cuBLAS) and the driver API
 * (kernel modules). Made once, after a successful probe; from then on every JCuda error throws a
 * CudaException naming the call. {@link #bind()} makes the context current on the calling thread.
 */
final class CudaContext {
    final CUdevice device = new CUdevice();
    final CUcontext context = new CUcontext();
    final cublasHandle cublas = new cublasHandle();
    final int ccMajor, ccMinor;
    private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);

    CudaContext(CudaStatus status) {
        if (!status.available()) throw new IllegalStateException(status.describe());
        JCuda.setExceptionsEnabled(true);
        JCudaDriver.setExceptionsEnabled(true);
        JCublas2.setExceptionsEnabled(true);
        JNvrtc.setExceptionsEnabled(true);
        JCuda.cudaSetDevice(0);
        JCuda.cudaFree(new Pointer()); // initializes the runtime on the primary context
        JCudaDriver.cuInit(0);
        JCudaDriver.cuDeviceGet(device, 0);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
        JCudaDriver.cuCtxSetCurrent(context);
        bound.set(true);
        JCublas2.cublasCreate(cublas);
        ccMajor = status.ccMajor();
        ccMinor = status.ccMinor();
    }

    /** Makes the primary context current on this thread (once per thread). */
    void bind() {
        if (!bound.get()) {
            JCudaDriver.cuCtxSetCurrent(context);
            JCuda.cudaSetDevice(0);
            bound.set(true);
        }
    }

    /** Waits for all work queued on the device. */
    void synchronize() {
        JCuda.cudaDeviceSynchronize();
    }
}
