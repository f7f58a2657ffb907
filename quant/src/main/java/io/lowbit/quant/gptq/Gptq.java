package io.lowbit.quant.gptq;

import io.lowbit.quant.Quantizer;
import io.lowbit.quant.kernels.Rows;
import io.lowbit.quant.linalg.DenseLinalg;
import io.lowbit.quant.uniform.AffineGrid;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * GPTQ for one linear layer (spec steps 1–7). Feed the layer's real inputs with {@link #observe(Tensor)},
 * then {@link #quantize(Tensor)}. Rows of W are independent given U = chol(H⁻¹)ᵀ, so row blocks run in
 * parallel; inside each, columns are walked in lazy blocks of {@code blockSize} (with groups, a block
 * also ends before a group that would straddle its end, so every group refit sees fully updated weights
 * and the result does not depend on the block size).
 */
public final class Gptq implements Quantizer {
    /**
     * @param bits code width (2, 3, 4, 8)
     * @param symmetric symmetric grid (z = 2^(b−1)) instead of the spec's asymmetric min-max grid
     * @param groupSize input columns per scale group, or −1 for one group per row
     * @param actOrder quantize columns in order of descending diag(H) and keep g_idx
     * @param percDamp λ of the dampening H += λ·mean(diag H)·I
     * @param blockSize columns per lazy-update block
     */
    public record Config(int bits, boolean symmetric, int groupSize, boolean actOrder, double percDamp, int blockSize) {
        public Config {
            if (groupSize == 0 || groupSize < -1) throw new IllegalArgumentException("groupSize must be -1 or >= 1, got " + groupSize);
            if (!(percDamp >= 0)) throw new IllegalArgumentException("percdamp must be >= 0, got " + percDamp);
            if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
            new AffineSpec(bits, symmetric, io.lowbit.quant.uniform.Granularity.PER_CHANNEL, -1); // validates bits
        }

        /** Spec defaults: asymmetric, whole-row groups, no act-order, λ = 0.01, blocks of 128. */
        public static Config defaults(int bits) {
            return new Config(bits, false, -1, false, 0.01, 128);
        }

        /** This config with another group size. */
        public Config withGroupSize(int g) {
            return new Config(bits, symmetric, g, actOrder, percDamp, blockSize);
        }

        /** This config with act-order on or off. */
        public Config withActOrder(boolean on) {
            return new Config(bits, symmetric, groupSize, on, percDamp, blockSize);
        }

        /** This config with a symmetric or asymmetric grid. */
        public Config withSymmetric(boolean on) {
            return new Config(bits, on, groupSize, actOrder, percDamp, blockSize);
        }

        /** This config with another lazy block size. */
        public Config withBlockSize(int b) {
            return new Config(bits, symmetric, groupSize, actOrder, percDamp, b);
        }

        /** The grid shape of the result. */
        public AffineSpec spec() {
            return groupSize > 0 ? AffineSpec.perGroup(bits, symmetric, groupSize) : AffineSpec.perChannel(bits, symmetric);
        }
    }

    private final Config config;
    private Hessian hessian;

    /** A GPTQ quantizer for one layer. */
    public Gptq(Config config) {
        this.config = config;
    }

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public boolean needsCalibration() {
        return true;
    }

    @Override
    public void observe(Tensor activations) {
        if (hessian == null) hessian = new Hessian(activations.size(-1));
        hessian.add(activations);
    }

    /** The accumulated Hessian, or null before the first {@link #observe(Tensor)}. */
    public Hessian hessian() {
        return hessian;
    }

    @Override
    public AffineQuantizedTensor quantize(Tensor weight) {
        if (hessian == null || hessian.samples() == 0)
            throw new IllegalStateException("GPTQ needs calibration inputs: call observe(x) with the layer's inputs [n, in] before quantize");
        return quantize(weight, hessian.matrix(), config);
    }

    /** GPTQ of {@code weight} [out, in] against a given Hessian H (in×in, row-major; not modified). */
    public static AffineQuantizedTensor quantize(Tensor weight, double[] hessian, Config cfg) {
        Rows.check2d(weight, "GPTQ weight");
        int rows = weight.size(0), n = weight.size(1);
        if (hessian.length != (long) n * n)
            throw new IllegalArgumentException("Hessian has " + hessian.length + " values; weight " + Arrays.toString(weight.shape()) + " needs " + n + "×" + n);
        double[] w = new double[Math.multiplyExact(rows, n)];
        Tensor d = Rows.denseF32(weight);
        try {
            MemorySegment seg = d.segment();
            for (int i = 0; i < w.length; i++) {
                w[i] = seg.getAtIndex(ValueLayout.JAVA_FLOAT, d.offset() + i);
                if (!Double.isFinite(w[i])) throw new IllegalArgumentException("non-finite weight " + w[i] + " at row " + i / n + ", column " + i % n);
            }
        } finally {
            if (d != weight) d.close();
        }
        double[] h = hessian.clone();
        // step 2: dead inputs
        for (int i = 0; i < n; i++) {
            if (h[i * n + i] == 0) {
                h[i * n + i] = 1;
                for (int r = 0; r < rows; r++) w[r * n + i] = 0;
            }
        }
        // step 3: act-order permutation (descending diag H, stable)
        int[] perm = IntStream.range(0, n).toArray();
        if (cfg.actOrder()) {
            double[] diag = new double[n];
            for (int i = 0; i < n; i++) diag[i] = h[i * n + i];
            perm = IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble((Integer i) -> -diag[i])).mapToInt(Integer::intValue).toArray();
            double[] hp = new double[n * n], wp = new double[w.length];
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) hp[a * n + b] = h[perm[a] * n + perm[b]];
            for (int r = 0; r < rows; r++)
                for (int a = 0; a < n; a++) wp[r * n + a] = w[r * n + perm[a]];
            h = hp;
            w = wp;
        }
        // step 4: dampening
        double meanDiag = 0;
        for (int i = 0; i < n; i++) meanDiag += h[i * n + i];
        meanDiag /= n;
        for (int i = 0; i < n; i++) h[i * n + i] += cfg.percDamp() * meanDiag;
        // step 5: U with H⁻¹ = UᵀU
        double[] u;
        try {
            u = DenseLinalg.upperCholeskyOfInverse(h, n);
        } catch (ArithmeticException e) {
            throw new ArithmeticException("GPTQ: the dampened Hessian (percdamp " + cfg.percDamp() + ") is not positive definite; "
                    + "use more calibration data or a larger percdamp (" + e.getMessage() + ")");
        }

        AffineSpec spec = cfg.spec();
        boolean grouped = cfg.groupSize() > 0;
        boolean gIdx = grouped && cfg.actOrder();
        AffineQuantizedTensor out = AffineQuantizedTensor.allocate(rows, n, spec, gIdx, "gptq");
        try {
            if (gIdx) for (int k = 0; k < n; k++) out.setGroupIndex(perm[k], k / cfg.groupSize());
            double[] wf = w;
            int[] pf = perm;
            Parallel.range(rows, 4, (lo, hi) -> quantizeRows(wf, u, n, (int) lo, (int) hi, pf, cfg, out));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Step 6 for rows [r0, r1) of the (permuted) W, which is updated in place. */
    private static void quantizeRows(double[] w, double[] u, int n, int r0, int r1, int[] perm, Config cfg, AffineQuantizedTensor out) {
        int m = r1 - r0, bs = cfg.blockSize(), g = cfg.groupSize();
        AffineGrid[] grid = new AffineGrid[m];
        if (g <= 0) {
            for (int r = r0; r < r1; r++) {
                grid[r - r0] = fit(w, r * n, r * n + n, cfg);
                out.setGrid(r, 0, grid[r - r0]);
            }
        }
        double[] err = new double[m * bs]; // Err[:, i − i1] of the current block
        for (int i1 = 0, i2; i1 < n; i1 = i2) {
            i2 = Math.min(n, i1 + bs);
            if (g > 0) { // end the block before a group that would straddle its end: refits must see all updates
                int s = (i2 - 1) / g * g; // the last group start inside the block
                if (s > i1 && s + g > i2 && i2 < n) i2 = s;
            }
            for (int i = i1; i < i2; i++) {
                if (g > 0 && i % g == 0) { // refit from the current, error-updated weights of the group
                    for (int r = r0; r < r1; r++) {
                        grid[r - r0] = fit(w, r * n + i, r * n + Math.min(n, i + g), cfg);
                        out.setGrid(r, i / g, grid[r - r0]);
                    }
                }
                double uii = u[i * n + i];
                for (int r = r0; r < r1; r++) {
                    int row = r * n;
                    double wi = w[row + i];
                    AffineGrid gr = grid[r - r0];
                    int q = gr.quantize(wi);
                    out.setCode(r, perm[i], q);
                    double e = (wi - gr.dequantize(q)) / uii; // err = (w_i − q)/U_ii
                    err[(r - r0) * bs + (i - i1)] = e;
                    DenseLinalg.axpy(-e, u, i * n + i + 1, w, row + i + 1, i2 - i - 1); // inside the block
                }
            }
            // lazy batch update: W[:, i2:] −= Err·U[i1:i2, i2:]
            if (i2 < n) DenseLinalg.subtractProduct(w, r0 * n + i2, n, err, 0, bs, u, i1 * n + i2, n, r1 - r0, i2 - i1, n - i2);
        }
    }

    /** Min-max grid (spec step 7) of w[from, to). */
    private static AffineGrid fit(double[] w, int from, int to, Config cfg) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) {
            lo = Math.min(lo, w[i]);
            hi = Math.max(hi, w[i]);
        }
        return AffineGrid.fit(lo, hi, cfg.bits(), cfg.symmetric());
    }
}
