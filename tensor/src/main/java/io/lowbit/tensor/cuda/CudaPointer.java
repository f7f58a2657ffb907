package io.lowbit.tensor.cuda;

import jcuda.Pointer;

/** A JCuda pointer that tells its address (JCuda keeps it protected); cudaMalloc fills it in. */
final class CudaPointer extends Pointer {
    CudaPointer() {}

    /** The device address this pointer holds. */
    long address() {
        return getNativePointer() + getByteOffset();
    }
}
