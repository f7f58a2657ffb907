/**
 * The CUDA backend: probed once ({@link io.lowbit.tensor.cuda.CudaProbe}), chosen by
 * {@link io.lowbit.tensor.cuda.Devices#resolve(String)}, and the only code in lowbit that touches JCuda.
 * Device memory comes from a caching allocator, GEMMs from cuBLAS, everything else from small CUDA C
 * kernels compiled at run time with NVRTC. See README.md beside this file for what has run on a GPU.
 */
package io.lowbit.tensor.cuda;
