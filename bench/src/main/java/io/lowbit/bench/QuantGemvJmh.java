package io.lowbit.bench;

import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.DenseGemv;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
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
 * Decode-time GEMV y = W·x on one LLaMA-7B MLP weight (W [4096, 11008], the down projection): the F32
 * Vector-API GEMV ({@link DenseGemv}) against the fused dequantizing GEMVs ({@link QuantizedTensor#gemv}),
 * which read the packed codes and decode them in registers. Decoding one token is memory-bound, so the
 * quantized formats should win by about the ratio of bytes read. Formats:
 * <ul>
 *   <li>{@code f32}: 4 bytes per weight;</li>
 *   <li>{@code int4-g128}: RTN 4-bit asymmetric, group 128 (GPTQ's usual layout);</li>
 *   <li>{@code nf4-dq}: NF4, block 64, double-quantized absmax (QLoRA's storage, 4.127 bits);</li>
 *   <li>{@code int8}: symmetric per output channel;</li>
 *   <li>{@code int3-g128}, {@code int2-g64}: RTN asymmetric.</li>
 * </ul>
 * The primary score is GEMVs per second; {@code gemv:weightGBps} is the rate of weight storage bytes read
 * (the format's bytes per weight × 4096·11008), {@code gemv:callerCpu} the calling thread's CPU share, and
 * each trial prints its format's bytes per weight. {@code bench/quant_gemv.sh} runs all cases and prints the
 * speed ratio of each format to f32, by wall time and (1 thread) by CPU time.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss16m"})
@State(Scope.Thread)
public class QuantGemvJmh {
    @Param({"f32", "int4-g128", "nf4-dq", "int8", "int3-g128", "int2-g64"})
    public String format;

    @Param({"1", "2"})
    public int threads;

    /** Weight shape [rows = out, cols = in]; the default is LLaMA-7B's down projection. */
    @Param({"4096x11008"})
    public String shape;

    private Tensor w;
    private QuantizedTensor q;
    private float[] x, y;
    private double gbPerCall;
    private int threadsBefore;

    /**
     * Weight storage read, reported by JMH as a rate: GB/s; and the CPU seconds the calling thread used, as a
     * rate: its CPU share (1 = never descheduled). On a shared machine GEMVs per CPU second (score / callerCpu,
     * meaningful with 1 thread, where the caller does all the work) is the measure other processes disturb least.
     */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Counters {
        public double weightGBps, callerCpu;
    }

    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        int rows = Integer.parseInt(d[0]), cols = Integer.parseInt(d[1]);
        Rng rng = new Rng(1234);
        w = Tensor.normal(DType.F32, rng, 0, 0.02, rows, cols).label(MemoryCategory.WEIGHTS);
        x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) rng.nextGaussian();
        y = new float[rows];
        q = switch (format) {
            case "f32" -> null;
            case "int4-g128" -> new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w);
            case "nf4-dq" -> new Nf4Quantizer().quantize(w);
            case "int8" -> new AffineQuantizer(AffineSpec.perChannel(8, true)).quantize(w);
            case "int3-g128" -> new AffineQuantizer(AffineSpec.perGroup(3, false, 128)).quantize(w);
            case "int2-g64" -> new AffineQuantizer(AffineSpec.perGroup(2, false, 64)).quantize(w);
            default -> throw new IllegalArgumentException("unknown format '" + format + "'");
        };
        if (q != null) { // the dense weight is not needed any more: only the packed storage is read
            w.close();
            w = null;
        }
        double bitsPerWeight = q == null ? 32 : q.bitsPerWeight();
        gbPerCall = bitsPerWeight / 8 * rows * cols / 1e9;
        System.out.printf(Locale.ROOT, "%n# %s [%d, %d]: %.4f bytes/weight (%.4f bits), %.1f MB read per GEMV%n", format, rows, cols,
                bitsPerWeight / 8, bitsPerWeight, gbPerCall * 1e3);
        threadsBefore = Parallel.threads();
        Parallel.setThreads(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (w != null) w.close();
        if (q != null) q.close();
        Parallel.setThreads(threadsBefore);
    }

    @Benchmark
    public float[] gemv(Counters counters) {
        long cpu0 = CPU.getCurrentThreadCpuTime();
        if (q == null) DenseGemv.gemv(w.segment(), 0, y.length, x.length, x, y);
        else q.gemv(x, y);
        counters.callerCpu += (CPU.getCurrentThreadCpuTime() - cpu0) * 1e-9;
        counters.weightGBps += gbPerCall;
        return y;
    }
}
