package io.lowbit.quant;

import io.lowbit.quant.kernels.DenseGemv;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.cpu.Sgemm;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain (JMH-free) timing of decode-time GEMV y = W·x on one weight: the F32 Vector-API GEMV against
 * the fused int4 (RTN, group 128, asymmetric) and NF4 (block 64, double-quantized) GEMVs, plus int8
 * (per channel, symmetric), int3 (group 128) and int2 (group 64). Reports the
 * median time of several runs after warm-up, effective weight bandwidth, speed ratio against F32, bytes
 * per weight, and the largest difference of each fused result from dequantize-then-F32-GEMV.
 */
public final class QuantBench {
    private QuantBench() {}

    /**
     * Runs the measurement on a weight [out, in] with 1 thread and with {@link Parallel#threads()} threads
     * and returns the report lines. The kernels are timed in interleaved rounds (f32, int4, nf4, f32, ...)
     * so that load from other processes affects all of them alike.
     */
    public static List<String> run(int out, int in, int warmup, int runs) {
        List<String> lines = new ArrayList<>();
        Rng rng = new Rng(1234);
        float[] x = new float[in];
        for (int i = 0; i < in; i++) x[i] = (float) rng.nextGaussian();
        float[] y = new float[out];
        int threads = Parallel.threads();
        try (Tensor w = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, out, in)) {
            long n = (long) out * in;
            for (long i = 0; i < n; i++) w.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (0.02 * rng.nextGaussian()));
            String[] names = {"f32", "int4-g128", "nf4-dq", "int8-chan", "int3-g128", "int2-g64"};
            QuantizedTensor[] q = new QuantizedTensor[names.length];
            try {
                q[1] = new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w);
                q[2] = new Nf4Quantizer().quantize(w);
                q[3] = new AffineQuantizer(AffineSpec.perChannel(8, true)).quantize(w);
                q[4] = new AffineQuantizer(AffineSpec.perGroup(3, false, 128)).quantize(w);
                q[5] = new AffineQuantizer(AffineSpec.perGroup(2, false, 64)).quantize(w);
                Runnable[] kernels = new Runnable[names.length];
                kernels[0] = () -> DenseGemv.gemv(w.segment(), 0, out, in, x, y);
                for (int k = 1; k < names.length; k++) {
                    QuantizedTensor qk = q[k];
                    kernels[k] = () -> qk.gemv(x, y);
                }
                double[] relDiff = new double[names.length];
                relDiff[0] = Double.NaN;
                for (int k = 1; k < names.length; k++) {
                    q[k].gemv(x, y);
                    float[] ref = new float[out];
                    try (Tensor d = q[k].dequantize()) {
                        DenseGemv.gemv(d.segment(), 0, out, in, x, ref);
                    }
                    double maxDiff = 0, maxRef = 0;
                    for (int r = 0; r < out; r++) {
                        maxDiff = Math.max(maxDiff, Math.abs(y[r] - ref[r]));
                        maxRef = Math.max(maxRef, Math.abs(ref[r]));
                    }
                    relDiff[k] = maxDiff / maxRef;
                }
                for (int t : threads > 1 ? new int[] {1, threads} : new int[] {1}) {
                    Parallel.setThreads(t);
                    try {
                        double[] med = timeInterleaved(kernels, warmup, runs);
                        lines.add(String.format("QuantBench GEMV y = W·x, W[%d, %d], %d thread(s), median of %d interleaved runs after %d warm-up",
                                out, in, t, runs, warmup));
                        for (int k = 0; k < names.length; k++)
                            lines.add(row(names[k], med[k], k == 0 ? 32.0 : q[k].bitsPerWeight(), n, med[0], relDiff[k]));
                    } finally {
                        Parallel.setThreads(threads);
                    }
                }
            } finally {
                for (QuantizedTensor qk : q) if (qk != null) qk.close();
            }
        }
        return lines;
    }

    /**
     * Times the batched product Y[n, out] = X[n, in]·Wᵀ: dense F32 {@link Sgemm} against the tiled
     * dequantize-then-Sgemm path ({@link TiledMatmul}) for int4 and NF4, median of {@code runs}.
     */
    public static List<String> batched(int out, int in, int n, int runs) {
        List<String> lines = new ArrayList<>();
        Rng rng = new Rng(99);
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.02, out, in); Tensor x = Tensor.normal(DType.F32, rng, 0, 1, n, in);
             Tensor y = Tensor.empty(DType.F32, n, out);
             QuantizedTensor int4 = new AffineQuantizer(AffineSpec.perGroup(4, false, 128)).quantize(w);
             QuantizedTensor nf4 = new Nf4Quantizer().quantize(w)) {
            Runnable[] kernels = {
                () -> Sgemm.sgemm(false, true, n, out, in, 1f, x.segment(), 0, in, w.segment(), 0, in, 0f, y.segment(), 0, out),
                () -> TiledMatmul.forward(int4, x.segment(), 0, n, y.segment(), 0),
                () -> TiledMatmul.forward(nf4, x.segment(), 0, n, y.segment(), 0)};
            double[] med = timeInterleaved(kernels, 1, runs);
            lines.add(String.format("QuantBench batched Y = X·W^T, X[%d, %d], W[%d, %d], %d thread(s), median of %d runs", n, in, out, in, Parallel.threads(), runs));
            String[] names = {"f32 sgemm", "int4 tiled", "nf4 tiled"};
            for (int k = 0; k < 3; k++)
                lines.add(String.format("%-10s %8.3f ms  %5.2fx of f32", names[k], med[k] * 1e3, med[k] / med[0]));
        }
        return lines;
    }

    private static double[] timeInterleaved(Runnable[] kernels, int warmup, int runs) {
        for (int i = 0; i < warmup; i++) for (Runnable k : kernels) k.run();
        double[][] t = new double[kernels.length][runs];
        for (int i = 0; i < runs; i++)
            for (int k = 0; k < kernels.length; k++) {
                long t0 = System.nanoTime();
                kernels[k].run();
                t[k][i] = (System.nanoTime() - t0) / 1e9;
            }
        double[] med = new double[kernels.length];
        for (int k = 0; k < kernels.length; k++) {
            Arrays.sort(t[k]);
            med[k] = t[k][runs / 2];
        }
        return med;
    }

    private static String row(String name, double sec, double bitsPerWeight, long n, double f32, double relDiff) {
        double bytes = bitsPerWeight / 8 * n;
        return String.format("%-10s %8.3f ms  %6.2f GB/s  speedup vs f32 %5.2fx  %.4f bits/weight (%.4f bytes)%s",
                name, sec * 1e3, bytes / sec / 1e9, f32 / sec, bitsPerWeight, bitsPerWeight / 8,
                Double.isNaN(relDiff) ? "" : String.format("  max|fused-ref|/max|ref| %.2e", relDiff));
    }

    /** {@code java ... io.lowbit.quant.QuantBench [out in]}: GEMV on W[out, in] (default 4096 11008), then a batched product on W[1024, 4096]. */
    public static void main(String[] args) {
        int out = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int in = args.length > 1 ? Integer.parseInt(args[1]) : 11008;
        run(out, in, 10, 21).forEach(System.out::println);
        batched(1024, 4096, 16, 5).forEach(System.out::println);
    }
}
