package io.lowbit.bench;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.cpu.Sgemm;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * SGEMM throughput, C = op(A)·op(B) in fp32: square n×n·n×n products and the LLaMA training shapes
 * (forward and both backward products), on 1 and 2 threads. The {@code gflops} secondary result is
 * GFLOP/s (2·m·n·k flops per call); the primary result is calls per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss16m"})
@State(Scope.Thread)
public class SgemmJmh {
    /** "n" for a square product, or "m x n x k" with optional ":TN"-style transposition flags (A then B). */
    @Param({"256", "512", "1024", "2048",
            "2048x688x256", "2048x256x688", "2048x2048x256",
            "2048x256x688:NT", "256x688x2048:TN", "2048x688x256:NT", "688x256x2048:TN",
            "2048x256x2048:NT", "256x2048x2048:TN"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private int m, n, k;
    private boolean transA, transB;
    private Tensor a, b, c;
    private int threadsBefore;

    /** GFLOP done, reported by JMH as a rate: GFLOP/s. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Flops {
        public double gflops;
    }

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split(":");
        String[] dims = parts[0].split("x");
        if (dims.length == 1) {
            m = n = k = Integer.parseInt(dims[0]);
        } else {
            m = Integer.parseInt(dims[0]);
            n = Integer.parseInt(dims[1]);
            k = Integer.parseInt(dims[2]);
        }
        transA = parts.length > 1 && parts[1].charAt(0) == 'T';
        transB = parts.length > 1 && parts[1].charAt(1) == 'T';
        threadsBefore = Parallel.threads();
        Parallel.setThreads(threads);
        Rng rng = new Rng(7);
        a = Tensor.uniform(DType.F32, rng, -1, 1, transA ? k : m, transA ? m : k);
        b = Tensor.uniform(DType.F32, rng, -1, 1, transB ? n : k, transB ? k : n);
        c = Tensor.empty(DType.F32, m, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
        Parallel.setThreads(threadsBefore);
    }

    @Benchmark
    public void sgemm(Flops flops) {
        Sgemm.sgemm(transA, transB, m, n, k, 1f, a.segment(), 0, transA ? m : k, b.segment(), 0, transB ? k : n,
                0f, c.segment(), 0, n);
        flops.gflops += 2e-9 * m * n * k;
    }
}
