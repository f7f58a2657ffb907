package io.lowbit.tensor.cpu;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * Throughput of the fused kernels and a few core ops. Not a test (numbers depend on the machine and its
 * load); run by hand after {@code mvn -pl tensor test-compile}:
 * {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED
 * -cp tensor/target/classes:tensor/target/test-classes io.lowbit.tensor.cpu.FusedKernelsBench}
 */
public final class FusedKernelsBench {
    private FusedKernelsBench() {}

    private interface Body {
        Tensor run();
    }

    /** Best-of-reps time after a warm-up, with the bytes moved and flops done per call. */
    private static void time(String name, int reps, double bytes, double flops, Body b) {
        long w0 = System.nanoTime();
        while (System.nanoTime() - w0 < 700_000_000L) b.run().close();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            b.run().close();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        System.out.printf("%-48s %9.3f ms %8.2f GB/s %8.2f GFLOP/s%n", name, best * 1e3, bytes / best / 1e9, flops / best / 1e9);
    }

    public static void main(String[] args) {
        System.out.println("threads " + Parallel.threads() + ", vector " + Kernels.F);
        Rng r = new Rng(1);
        Tensor w = Tensor.uniform(DType.F32, r, -1, 1, 4096, 4096), x = Tensor.uniform(DType.F32, r, -1, 1, 4096);
        time("gemv W[4096,4096]·x", 20, 4096.0 * 4096 * 4, 2.0 * 4096 * 4096, () -> Fused.gemv(w, x));
        time("matmul x[1,4096]·Wᵀ (Sgemm)", 20, 4096.0 * 4096 * 4, 2.0 * 4096 * 4096, () -> x.unsqueeze(0).matmul(w.t()));
        Tensor q = Tensor.uniform(DType.F32, r, -1, 1, 1, 32, 128);
        Tensor k = Tensor.uniform(DType.F32, r, -1, 1, 2048, 8, 128), v = Tensor.uniform(DType.F32, r, -1, 1, 2048, 8, 128);
        time("attention decode t=1 H=32 kv=8 hd=128 pos=2047", 20, 2.0 * 2048 * 8 * 128 * 4, 4.0 * 2048 * 32 * 128,
                () -> Fused.attention(q, k, v, 2047, 0));
        Tensor qp = Tensor.uniform(DType.F32, r, -1, 1, 256, 32, 128);
        time("attention prefill t=256 H=32 kv=8 hd=128", 5, 0, 4.0 * 256 * 257 / 2 * 32 * 128, () -> Fused.attention(qp, k, v, 0, 0));
        Tensor xs = Tensor.uniform(DType.F32, r, -1, 1, 512, 4096), g = Tensor.uniform(DType.F32, r, -1, 1, 4096);
        time("rmsNorm [512,4096]", 20, 2.0 * 512 * 4096 * 4, 0, () -> Fused.rmsNorm(xs, g, 1e-5));
        RopeTables tab = Fused.ropeTables(128, 4096, 500000, new RopeScaling(8, 1, 4, 8192));
        Tensor xr = Tensor.uniform(DType.F32, r, -1, 1, 1, 512, 32, 128);
        time("rope interleaved [1,512,32,128]", 20, 2.0 * 512 * 4096 * 4, 0, () -> Fused.rope(xr, tab, 0, true));
        time("rope rotate-half [1,512,32,128]", 20, 2.0 * 512 * 4096 * 4, 0, () -> Fused.rope(xr, tab, 0, false));
        Tensor gt = Tensor.uniform(DType.F32, r, -1, 1, 512, 11008), up = Tensor.uniform(DType.F32, r, -1, 1, 512, 11008);
        time("swiglu [512,11008]", 10, 3.0 * 512 * 11008 * 4, 0, () -> Fused.swiglu(gt, up));
        time("silu then mul, unfused [512,11008]", 10, 5.0 * 512 * 11008 * 4, 0, () -> {
            try (Tensor s = gt.silu()) {
                return s.mul(up);
            }
        });
        Tensor big = Tensor.uniform(DType.F32, r, -1, 1, 2048, 2048);
        time("contiguous() of a transposed [2048,2048]", 10, 2.0 * 2048 * 2048 * 4, 0, () -> big.t().contiguous());
        time("add transposed + contiguous [2048,2048]", 10, 3.0 * 2048 * 2048 * 4, 0, () -> big.t().add(big));
        time("sum(dim=0) [2048,2048]", 10, 2048.0 * 2048 * 4, 0, () -> big.sum(0, false));
        time("softmax(-1) [2048,2048]", 10, 2.0 * 2048 * 2048 * 4, 0, () -> big.softmax(-1));
        time("exp [2048,2048]", 10, 2.0 * 2048 * 2048 * 4, 0, big::exp);
    }
}
