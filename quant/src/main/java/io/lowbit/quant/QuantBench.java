package io.lowbit.quant;

import io.lowbit.quant.kernels.DenseGemv;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain (JMH-free) timing of decode-time GEMV y = W·x on one weight: the F32 Vector-API GEMV against
 * the fused int4 (RTN, group 128, asymmetric) and NF4 (block 64, double-quantized) GEMVs. Reports the
 * median time of several runs after warm-up, effective weight bandwidth, speed ratio against F32, bytes
 * per weight, and the largest difference of each fused result from dequantize-then-F32-GEMV.
 */
public final class QuantBench {
    private QuantBench() {}

    /** Runs the measurement on a weight [out, in] and returns the report lines. */
    public static List<String> run(int out, int in, int warmup, int runs) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("QuantBench GEMV W[%d, %d], %d threads, median of %d runs after %d warm-up", out, in, Parallel.threads(), runs, warmup));
        Rng rng = new Rng(1234);
        float[] x = new float[in];
        for (int i = 0; i < in; i++) x[i] = (float) rng.nextGaussian();
        float[] y = new float[out];
        try (Tensor w = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, out, in)) {
            long n = (long) out * in;
            for (long i = 0; i < n; i++) w.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.02 * rng.nextGaussian()));
            double f32 = time(() -> DenseGemv.gemv(w.segment(), 0, out, in, x, y), warmup, runs);
            lines.add(row("f32", f32, 32.0, n, f32, Double.NaN));
            try (QuantizedTensor int4 = new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w);
                 QuantizedTensor nf4 = new Nf4Quantizer().quantize(w)) {
                for (var e : List.of(java.util.Map.entry("int4-g128", int4), java.util.Map.entry("nf4-dq", nf4))) {
                    QuantizedTensor q = e.getValue();
                    double t = time(() -> q.gemv(x, y), warmup, runs);
                    float[] fused = y.clone();
                    float[] ref = new float[out];
                    try (Tensor d = q.dequantize()) {
                        DenseGemv.gemv(d.segment(), 0, out, in, x, ref);
                    }
                    double maxDiff = 0, maxRef = 0;
                    for (int r = 0; r < out; r++) {
                        maxDiff = Math.max(maxDiff, Math.abs(fused[r] - ref[r]));
                        maxRef = Math.max(maxRef, Math.abs(ref[r]));
                    }
                    lines.add(row(e.getKey(), t, q.bitsPerWeight(), n, f32, maxDiff / maxRef));
                }
            }
        }
        return lines;
    }

    private static String row(String name, double sec, double bitsPerWeight, long n, double f32, double relDiff) {
        double bytes = bitsPerWeight / 8 * n;
        return String.format("%-10s %8.3f ms  %6.2f GB/s  speedup vs f32 %5.2fx  %.4f bits/weight (%.4f bytes)%s",
                name, sec * 1e3, bytes / sec / 1e9, f32 / sec, bitsPerWeight, bitsPerWeight / 8,
                Double.isNaN(relDiff) ? "" : String.format("  max|fused-ref|/max|ref| %.2e", relDiff));
    }

    private static double time(Runnable r, int warmup, int runs) {
        for (int i = 0; i < warmup; i++) r.run();
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(t);
        return t[runs / 2];
    }

    /** {@code java ... io.lowbit.quant.QuantBench [out in]} (default 4096 11008). */
    public static void main(String[] args) {
        int out = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int in = args.length > 1 ? Integer.parseInt(args[1]) : 11008;
        run(out, in, 10, 21).forEach(System.out::println);
    }
}
