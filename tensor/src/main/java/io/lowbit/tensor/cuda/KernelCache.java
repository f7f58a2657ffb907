package io.lowbit.tensor.cuda;

import io.lowbit.tensor.DType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;
import jcuda.nvrtc.JNvrtc;
import jcuda.nvrtc.nvrtcProgram;

/**
 * Compiles {@link KernelSource} with NVRTC for this device's architecture, once per element type, and
 * launches its kernels. A compile error throws with NVRTC's log. Arguments are passed as Java values:
 * {@link Pointer} (device memory), Integer (int), Long (long long), Double (double), long[] (a
 * {@link Layout} struct by value) or {@link #NULL} (a null device pointer).
 */
final class KernelCache {
    /** A null device pointer argument. */
    static final Object NULL = new Object();

    private final CudaContext ctx;
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, java.util.List<KernelSignatures.Kind>> signatures = KernelSignatures.parse(KernelSource.module("float"));

    KernelCache(CudaContext ctx) {
        this.ctx = ctx;
    }

    private static String elementType(DType t) {
        return switch (t) {
            case F32 -> "float";
            case F64 -> "double";
            default -> throw new IllegalArgumentException("CUDA kernels compute in F32 or F64, got " + t);
        };
    }

    private synchronized CUfunction function(DType t, String name) {
        String type = elementType(t);
        String key = type + "/" + name;
        CUfunction f = functions.get(key);
        if (f != null) return f;
        CUmodule m = modules.computeIfAbsent(type, this::compile);
        f = new CUfunction();
        JCudaDriver.cuModuleGetFunction(f, m, name);
        functions.put(key, f);
        return f;
    }

    private CUmodule compile(String type) {
        String arch = "--gpu-architecture=compute_" + architecture();
        nvrtcProgram prog = new nvrtcProgram();
        JNvrtc.nvrtcCreateProgram(prog, KernelSource.module(type), "lowbit_" + type + ".cu", 0, null, null);
        try {
            try {
                JNvrtc.nvrtcCompileProgram(prog, 2, new String[] {arch, "--std=c++17"});
            } catch (RuntimeException e) {
                String[] log = new String[1];
                JNvrtc.nvrtcGetProgramLog(prog, log);
                throw new IllegalStateException("NVRTC could not compile the " + type + " kernels for " + arch + ":\n" + log[0], e);
            }
            String[] ptx = new String[1];
            JNvrtc.nvrtcGetPTX(prog, ptx);
            CUmodule module = new CUmodule();
            JCudaDriver.cuModuleLoadData(module, ptx[0]);
            return module;
        } finally {
            JNvrtc.nvrtcDestroyProgram(prog);
        }
    }

    // the device's compute capability, or the newest one this NVRTC knows when the device is newer (PTX JITs forward)
    private int architecture() {
        int want = ctx.ccMajor * 10 + ctx.ccMinor;
        int[] count = {0};
        JNvrtc.nvrtcGetNumSupportedArchs(count);
        int[] archs = new int[count[0]];
        JNvrtc.nvrtcGetSupportedArchs(archs);
        int best = -1;
        for (int a : archs) if (a <= want && a > best) best = a;
        if (best < 0) throw new IllegalStateException("NVRTC supports none of the architectures up to sm_" + want + " (it knows "
                + java.util.Arrays.toString(archs) + ")");
        return best;
    }

    /** Launches {@code name} with one thread per element of {@code n} (nothing when n = 0). */
    void launch(DType t, String name, long n, Object... args) {
        if (n <= 0) return;
        long blocks = (n + KernelSource.BLOCK - 1) / KernelSource.BLOCK;
        run(t, name, blocks, args);
    }

    /** Launches {@code name} with one {@link KernelSource#BLOCK}-thread block per row. */
    void launchRows(DType t, String name, long rows, Object... args) {
        if (rows <= 0) return;
        run(t, name, rows, args);
    }

    private void run(DType t, String name, long blocks, Object... args) {
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException(name + ": " + blocks + " blocks exceed the grid limit");
        KernelSignatures.check(signatures, name, args);
        ctx.bind();
        CUfunction f = function(t, name);
        List<NativePointerObject> ps = new ArrayList<>(args.length);
        for (Object a : args) {
            if (a instanceof Pointer p) ps.add(Pointer.to(p));
            else if (a instanceof Integer i) ps.add(Pointer.to(new int[] {i}));
            else if (a instanceof Long l) ps.add(Pointer.to(new long[] {l}));
            else if (a instanceof Double d) ps.add(Pointer.to(new double[] {d}));
            else if (a instanceof long[] s) ps.add(Pointer.to(s));
            else if (a == NULL) ps.add(Pointer.to(new long[] {0L}));
            else throw new IllegalArgumentException(name + ": unsupported kernel argument " + a);
        }
        JCudaDriver.cuLaunchKernel(f, (int) blocks, 1, 1, KernelSource.BLOCK, 1, 1, 0, null,
                Pointer.to(ps.toArray(new NativePointerObject[0])), null);
    }
}
