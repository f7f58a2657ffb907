package io.lowbit.examples.cli;

import io.lowbit.tensor.cpu.SgemmBench;
import java.util.Arrays;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lowbit bench sgemm}: fp32 GEMM throughput, one line per case, for comparison with BLAS libraries. */
@Command(name = "sgemm", mixinStandardHelpOptions = true,
        description = {"Square n×n·n×n fp32 SGEMM throughput after warm-up (best of 25 windows of >= 50 ms).",
                "Prints one line per case: sgemm n=<n> threads=<t> gflops=<x>.",
                "Compare with OpenBLAS in the same minute: bench/compare_sgemm.sh."})
public final class BenchSgemmCommand implements Runnable {
    @Option(names = "--sizes", split = ",", defaultValue = "256,1024,2048",
            description = "Matrix sizes n (default: ${DEFAULT-VALUE}).")
    int[] sizes;

    @Option(names = "--threads", split = ",", defaultValue = "1,2",
            description = "Thread counts to run each size with (default: ${DEFAULT-VALUE}).")
    int[] threads;

    @Option(names = "--llama", description = "Also run the LLaMA training shapes (forward and both backward products).")
    boolean llama;

    @Override
    public void run() {
        for (int n : sizes) if (n < 1 || n > 16384) throw new IllegalArgumentException("--sizes: n must be in [1, 16384], got " + n);
        for (int t : threads) if (t < 1 || t > 256) throw new IllegalArgumentException("--threads: must be in [1, 256], got " + t);
        SgemmBench.run(Arrays.copyOf(sizes, sizes.length), threads);
        if (llama) SgemmBench.runLlama(threads);
    }
}
