package io.lowbit.tensor.cpu;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A plain-Java SGEMM throughput measurement (no JMH) that the command line can call: each case is warmed
 * up, then timed in several repetitions of at least {@link #REP_NANOS}; the best repetition is reported as
 * GFLOP/s = 2·m·n·k / seconds.
 */
public final class SgemmBench {
    private static final long WARMUP_NANOS = 1_000_000_000L;
    private static final long REP_NANOS = 50_000_000L;
    private static final int REPS = 25;

    /** The LLaMA-training product shapes {m, n, k, transA, transB}: forward, and the two backward products. */
    public static final int[][] LLAMA_SHAPES = {
        {2048, 688, 256, 0, 0}, {2048, 256, 688, 0, 0}, {2048, 2048, 256, 0, 0},
        {2048, 256, 688, 0, 1}, {256, 688, 2048, 1, 0},
        {2048, 688, 256, 0, 1}, {688, 256, 2048, 1, 0},
        {2048, 256, 2048, 0, 1}, {256, 2048, 2048, 1, 0},
    };

    private SgemmBench() {}

    /**
     * Square n×n·n×n products for every size and thread count; returns (and prints) one line per case:
     * {@code sgemm n=<n> threads=<t> gflops=<x>}.
     */
    public static List<String> run(int[] sizes, int[] threads) {
        List<String> lines = new ArrayList<>();
        for (int t : threads)
            for (int n : sizes) {
                String line = String.format(Locale.ROOT, "sgemm n=%d threads=%d gflops=%.1f", n, t, gflops(n, n, n, false, false, t));
                System.out.println(line);
                lines.add(line);
            }
        return lines;
    }

    /**
     * The {@link #LLAMA_SHAPES} for every thread count; one line per case:
     * {@code sgemm m=<m> n=<n> k=<k> ta=<0|1> tb=<0|1> threads=<t> gflops=<x>}.
     */
    public static List<String> runLlama(int[] threads) {
        List<String> lines = new ArrayList<>();
        for (int t : threads)
            for (int[] s : LLAMA_SHAPES) {
                String line = String.format(Locale.ROOT, "sgemm m=%d n=%d k=%d ta=%d tb=%d threads=%d gflops=%.1f",
                        s[0], s[1], s[2], s[3], s[4], t, gflops(s[0], s[1], s[2], s[3] == 1, s[4] == 1, t));
                System.out.println(line);
                lines.add(line);
            }
        return lines;
    }

    /** Best-repetition GFLOP/s of C = op(A)·op(B) for one shape on {@code threads} threads. */
    public static double gflops(int m, int n, int k, boolean transA, boolean transB, int threads) {
        int before = Parallel.threads();
        Parallel.setThreads(threads);
        Rng rng = new Rng(1234);
        try (Tensor a = Tensor.uniform(DType.F32, rng, -1, 1, transA ? k : m, transA ? m : k);
             Tensor b = Tensor.uniform(DType.F32, rng, -1, 1, transB ? n : k, transB ? k : n);
             Tensor c = Tensor.empty(DType.F32, m, n)) {
            Runnable call = () -> Sgemm.sgemm(transA, transB, m, n, k, 1f, a.segment(), 0, transA ? m : k,
                    b.segment(), 0, transB ? k : n, 0f, c.segment(), 0, n);
            for (long t0 = System.nanoTime(); System.nanoTime() - t0 < WARMUP_NANOS; ) call.run();
            double best = 0;
            for (int r = 0; r < REPS; r++) {
                long calls = 0, t0 = System.nanoTime(), dt;
                do {
                    call.run();
                    calls++;
                } while ((dt = System.nanoTime() - t0) < REP_NANOS);
                best = Math.max(best, 2.0 * m * n * k * calls / dt);
            }
            return best;
        } finally {
            Parallel.setThreads(before);
        }
    }

    /**
     * {@code java ... io.lowbit.tensor.cpu.SgemmBench [sizes=256,512,1024,2048] [threads=1,2] [llama]
     * [shape=m,n,k,ta,tb]}: prints one line per case ({@code shape=} measures that one product only).
     */
    public static void main(String[] args) {
        int[] sizes = {256, 512, 1024, 2048}, threads = {1, 2}, shape = null;
        boolean llama = false;
        for (String arg : args) {
            if (arg.startsWith("sizes=")) sizes = ints(arg.substring(6));
            else if (arg.startsWith("threads=")) threads = ints(arg.substring(8));
            else if (arg.startsWith("shape=")) shape = ints(arg.substring(6));
            else if (arg.equals("llama")) llama = true;
            else throw new IllegalArgumentException("unknown argument " + arg + " (sizes=a,b threads=a,b llama shape=m,n,k,ta,tb)");
        }
        if (shape != null) {
            if (shape.length != 5) throw new IllegalArgumentException("shape= needs m,n,k,ta,tb, got " + java.util.Arrays.toString(shape));
            for (int t : threads)
                System.out.println(String.format(Locale.ROOT, "sgemm m=%d n=%d k=%d ta=%d tb=%d threads=%d gflops=%.1f",
                        shape[0], shape[1], shape[2], shape[3], shape[4], t, gflops(shape[0], shape[1], shape[2], shape[3] == 1, shape[4] == 1, t)));
            return;
        }
        if (sizes.length > 0) run(sizes, threads);
        if (llama) runLlama(threads);
    }

    private static int[] ints(String csv) {
        if (csv.isEmpty()) return new int[0];
        String[] parts = csv.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Integer.parseInt(parts[i].trim());
        return out;
    }
}
