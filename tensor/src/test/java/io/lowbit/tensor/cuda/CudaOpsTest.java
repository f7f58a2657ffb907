package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.BackendCase.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import io.lowbit.tensor.testing.NoLeaks;

/**
 * The fused CUDA kernels against plain reference loops written from the papers' equations. They exist
 * only on a GPU, so without one every test here is reported as skipped with the probe's reason.
 */
@org.junit.jupiter.api.extension.ExtendWith(NoLeaks.class)
class CudaOpsTest {
    private static final double[] NF4 = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
            -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
            0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

    private CudaOps ops;

    @BeforeEach
    void needsCuda() {
        device("cuda");
        ops = new CudaOps(CudaBackend.instance());
    }

    @Test
    void rmsNormMatchesItsDefinition() {
        Random r = new Random(12);
        for (int n : new int[] {1, 7, 33, 257, 1025}) {
            int rows = 5;
            double[] x = uniform(r, rows * n, -2, 2), w = uniform(r, n, 0.5, 1.5);
            try (var _ = MemoryScope.open(); var out = ops.rmsNorm(on(f32(x, rows, n), Device.CUDA), on(f32(w, n), Device.CUDA), 1e-6)) {
                double[] y = new double[rows * n], rstd = new double[rows];
                for (int i = 0; i < rows; i++) {
                    double ss = 0;
                    for (int j = 0; j < n; j++) ss += x[i * n + j] * x[i * n + j];
                    rstd[i] = 1 / Math.sqrt(ss / n + 1e-6); // RMSNorm eq. 4
                    for (int j = 0; j < n; j++) y[i * n + j] = x[i * n + j] * rstd[i] * w[j];
                }
                assertClose(y, new int[] {rows, n}, out.y(), 1e-5, 1e-6, "rmsNorm n=" + n);
                assertClose(rstd, new int[] {rows}, out.rstd(), 1e-5, 1e-6, "rmsNorm rstd n=" + n);
            }
        }
    }

    @Test
    void ropeRotatesPairsAndInverts() {
        Random r = new Random(13);
        int rows = 9, d = 64;
        double[] x = uniform(r, rows * d, -1, 1);
        int[] pos = {0, 1, 2, 7, 100, 511, 2047, 4095, 3};
        try (var _ = MemoryScope.open()) {
            Tensor xd = on(f32(x, rows, d), Device.CUDA), p = Tensor.of(pos, rows);
            double[] want = new double[rows * d];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < d / 2; j++) {
                    double ang = pos[i] * Math.pow(10000, -2.0 * j / d), c = Math.cos(ang), s = Math.sin(ang);
                    double a = x[i * d + j], b = x[i * d + j + d / 2];
                    want[i * d + j] = a * c - b * s;
                    want[i * d + j + d / 2] = b * c + a * s;
                }
            Tensor y = ops.rope(xd, p, 10000, false);
            assertClose(want, new int[] {rows, d}, y, 1e-5, 1e-6, "rope");
            assertClose(x, new int[] {rows, d}, ops.rope(y, p, 10000, true), 1e-5, 1e-6, "inverse rope undoes rope");
        }
    }

    @Test
    void crossEntropyLossAndGradient() {
        Random r = new Random(14);
        int rows = 7, v = 1000;
        double[] z = uniform(r, rows * v, -6, 6);
        int[] t = {3, 999, 0, -100, 500, 1, 998};
        try (var _ = MemoryScope.open();
             var ce = ops.crossEntropy(on(f32(z, rows, v), Device.CUDA), Tensor.of(t, rows), true, 1.0 / 6)) {
            double[] loss = new double[rows], grad = new double[rows * v];
            for (int i = 0; i < rows; i++) {
                if (t[i] < 0) continue;
                double m = Double.NEGATIVE_INFINITY, s = 0;
                for (int j = 0; j < v; j++) m = Math.max(m, z[i * v + j]);
                for (int j = 0; j < v; j++) s += Math.exp(z[i * v + j] - m);
                loss[i] = m + Math.log(s) - z[i * v + t[i]];
                for (int j = 0; j < v; j++) grad[i * v + j] = (Math.exp(z[i * v + j] - m) / s - (j == t[i] ? 1 : 0)) / 6;
            }
            assertClose(loss, new int[] {rows}, ce.loss(), 1e-5, 1e-5, "cross-entropy loss");
            assertClose(grad, new int[] {rows, v}, ce.grad(), 1e-5, 1e-7, "cross-entropy gradient");
        }
    }

    @Test
    void nf4DequantizesBlocksWithTheHighNibbleFirst() {
        Random r = new Random(15);
        int n = 64 * 3 + 17; // a short last block
        int[] q = new int[n];
        for (int i = 0; i < n; i++) q[i] = r.nextInt(16);
        byte[] packed = new byte[(n + 1) / 2];
        for (int i = 0; i < n; i++) packed[i / 2] |= (byte) (i % 2 == 0 ? q[i] << 4 : q[i]);
        float[] absmax = {0.5f, 0f, 2.25f, 1e-3f};
        try (var _ = MemoryScope.open()) {
            Tensor codes = Tensor.empty(DType.U8, packed.length);
            for (int i = 0; i < packed.length; i++) codes.setDouble(i, packed[i] & 0xff);
            Tensor w = ops.nf4Dequant(codes, Tensor.of(absmax, 4), 64, DType.F32, n);
            double[] want = new double[n];
            for (int i = 0; i < n; i++) want[i] = (float) (NF4[q[i]] * absmax[i / 64]);
            assertClose(want, new int[] {n}, w, 1e-6, 0, "nf4 dequant (an all-zero block gives exact zeros)");
        }
    }

    @Test
    void intDequantReadsLsbFirstBitStreams() {
        Random r = new Random(16);
        for (int bits = 1; bits <= 8; bits++) {
            int n = 129, group = 32;
            int[] q = new int[n];
            for (int i = 0; i < n; i++) q[i] = r.nextInt(1 << bits);
            byte[] packed = new byte[(n * bits + 7) / 8];
            for (int i = 0; i < n; i++)
                for (int b = 0; b < bits; b++)
                    if (((q[i] >> b) & 1) != 0) packed[(i * bits + b) / 8] |= (byte) (1 << ((i * bits + b) % 8));
            int groups = (n + group - 1) / group;
            double[] sc = uniform(r, groups, 0.01, 0.1), zp = uniform(r, groups, 0, (1 << bits) - 1);
            try (var _ = MemoryScope.open()) {
                Tensor p = Tensor.empty(DType.U8, packed.length);
                for (int i = 0; i < packed.length; i++) p.setDouble(i, packed[i] & 0xff);
                Tensor w = ops.intDequant(p, bits, f32(sc, groups), f32(zp, groups), group, DType.F32, n);
                double[] want = new double[n];
                for (int i = 0; i < n; i++) want[i] = (float) ((q[i] - zp[i / group]) * sc[i / group]);
                assertClose(want, new int[] {n}, w, 1e-5, 1e-7, bits + "-bit dequant");
            }
        }
    }

    @Test
    void fakeQuantRoundsClipsAndPassesTheGradientStraightThrough() {
        Random r = new Random(17);
        int n = 65, group = 16, groups = 5;
        double[] x = uniform(r, n, -1.2, 1.2);
        double[] s = uniform(r, groups, 0.05, 0.15), z = new double[groups];
        for (int g = 0; g < groups; g++) z[g] = 8;
        try (var _ = MemoryScope.open()) {
            Tensor sx = f32(s, groups), zx = f32(z, groups);
            var fq = ops.fakeQuant(on(f32(x, n), Device.CUDA), sx, zx, group, 0, 15);
            double[] y = new double[n], mask = new double[n], dy = uniform(r, n, -1, 1), dx = new double[n];
            Tensor dyt = f32(dy, n);
            for (int i = 0; i < n; i++) {
                double q = Math.rint(x[i] / s[i / group]) + z[i / group];
                mask[i] = q >= 0 && q <= 15 ? 1 : 0;
                y[i] = (Math.min(15, Math.max(0, q)) - z[i / group]) * s[i / group];
                dx[i] = dy[i] * mask[i];
            }
            assertClose(y, new int[] {n}, fq.y(), 1e-5, 1e-6, "fake-quant forward");
            assertClose(mask, new int[] {n}, fq.mask(), 0, 0, "STE mask");
            assertClose(dx, new int[] {n}, ops.fakeQuantBackward(dyt, fq.mask()), 1e-6, 0, "STE backward");
            fq.close();
        }
    }

    @Test
    void mixedPrecisionMatmulAccumulatesInFp32() {
        Random r = new Random(18);
        int m = 33, k = 129, n = 17;
        double[] a = uniform(r, m * k, -1, 1), b = uniform(r, k * n, -1, 1);
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            try (var _ = MemoryScope.open()) {
                Tensor ah = f32(a.clone(), m, k).to(t), bh = f32(b.clone(), k, n).to(t);
                double[] ar = ah.toDoubleArray(), br = bh.toDoubleArray(); // the rounded inputs
                double[] want = new double[m * n];
                for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) want[i * n + j] += ar[i * k + p] * br[p * n + j];
                Tensor c = CudaBackend.instance().matmulMixed(on(ah, Device.CUDA), on(bh, Device.CUDA));
                assertEquals(DType.F32, c.dtype());
                assertClose(want, new int[] {m, n}, c, 1e-4, 1e-4, "GemmEx " + t);
            }
        }
    }
}
