package io.lowbit.autograd.optim;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The dynamic 8-bit code and 8-bit AdamW against fp32 AdamW. */
@ExtendWith(NoLeaks.class)
class AdamW8bitTest {

    @Test
    void dynamicCodesHaveTheDocumentedShape() {
        float[] s = DynamicQuantMap.signed().values(), u = DynamicQuantMap.unsigned().values();
        assertEquals(256, s.length);
        for (int i = 1; i < 256; i++) {
            assertTrue(s[i] > s[i - 1], "signed code strictly ascending at " + i);
            assertTrue(u[i] > u[i - 1], "unsigned code strictly ascending at " + i);
        }
        assertEquals(1.0f, s[255]);
        assertEquals(1.0f, u[255]);
        assertEquals(0.0f, u[0]);
        assertEquals(0.0f, s[127]); // 127 negative values below zero
        assertTrue(s[0] > -1 && s[0] < -0.99, "most negative signed value " + s[0]);
        // smallest magnitude: midpoint of the first bin of the 1e-6 decade
        assertEquals(1e-6 * (0.1 + 1.0) / 2, s[128], 1e-12); // signed: decade 1e-6 has one bin [0.1, 1]
        assertEquals(1e-6 * (0.1 + 0.55) / 2, u[1], 1e-12); // unsigned: two bins [0.1, 0.55], [0.55, 1]
    }

    @Test
    void encodePicksTheNearestCode() {
        DynamicQuantMap m = DynamicQuantMap.signed();
        float[] code = m.values();
        Rng rng = new Rng(11);
        for (int t = 0; t < 5000; t++) {
            float x = (float) (rng.nextDouble() * 2 - 1) * (float) Math.pow(10, -rng.nextInt(7));
            int best = 0;
            for (int i = 1; i < 256; i++) if (Math.abs(code[i] - x) < Math.abs(code[best] - x)) best = i;
            assertEquals(Math.abs(code[best] - x), Math.abs(m.decode(m.encode(x)) - x), 0f, "x = " + x);
        }
    }

    /** Full-batch least squares y = X·w* with n = 4096 weights (two blocks of 2048). */
    private static double train(boolean eightBit, Var w, Tensor x, Tensor y, int steps) {
        double loss = 0;
        List<ParamGroup> groups = List.of(new ParamGroup(List.of(w), 1e-2, 0.0));
        try (Optimizer opt = eightBit ? new AdamW8bit(groups, 0.9, 0.999, 1e-8, 2048, 0) : new AdamW(groups, 0.9, 0.999, 1e-8)) {
            for (int s = 0; s < steps; s++) {
                try (MemoryScope _ = MemoryScope.open()) {
                    Var l = F.mean(F.square(F.sub(F.matmul(new Var(x), w), new Var(y))));
                    l.backward();
                    loss = l.item();
                    opt.step();
                    opt.zeroGrad();
                }
                if (eightBit && s == 0) {
                    long perParam = Allocator.liveBytes(MemoryCategory.OPTIMIZER);
                    assertEquals(2 * 4096 + 2 * 64, perParam, "two byte codes per value plus two F32 absmax per block (64-byte aligned)");
                }
            }
        }
        return loss;
    }

    @Test
    void eightBitAdamTracksFp32Adam() {
        Rng rng = new Rng(21);
        int n = 256, d = 64; // w is [64, 64] = 4096 values; 256 samples make the problem well conditioned
        Tensor x = Tensor.normal(DType.F32, rng, 0, 1, n, d);
        Tensor wStar = Tensor.normal(DType.F32, rng, 0, 1, d, d);
        Tensor y = x.matmul(wStar);
        Tensor w0 = Tensor.zeros(DType.F32, d, d);
        Var w32 = Var.param(w0.copy()), w8 = Var.param(w0.copy());
        double start = train(false, w32, x, y, 1);
        w32.data().copyFrom(w0);
        double l32 = train(false, w32, x, y, 150), l8 = train(true, w8, x, y, 150);
        assertTrue(l32 < start * 0.1, "fp32 AdamW learns: " + start + " -> " + l32);
        System.out.println("AdamW vs AdamW8bit after 150 steps: loss " + start + " -> fp32 " + l32 + ", 8-bit " + l8);
        assertTrue(Math.abs(l8 - l32) < 0.15 * l32, "8-bit loss " + l8 + " vs fp32 " + l32);
        double diff = 0, norm = 0;
        for (long i = 0; i < w32.numel(); i++) {
            double a = w32.data().getDouble(i), b = w8.data().getDouble(i);
            diff += (a - b) * (a - b);
            norm += a * a;
        }
        System.out.println("relative parameter distance fp32 vs 8-bit: " + Math.sqrt(diff / norm));
        assertTrue(Math.sqrt(diff / norm) < 0.05, "relative parameter distance " + Math.sqrt(diff / norm));
        for (Tensor t : new Tensor[] {x, wStar, y, w0}) t.close();
        w32.close();
        w8.close();
    }

    /** Block-wise update against a scalar reference written from the paper's description, on 3 blocks (the last partial). */
    @Test
    void blockwiseUpdateMatchesAScalarReference() {
        int n = 700, block = 256;
        Rng rng = new Rng(5);
        DynamicQuantMap sm = DynamicQuantMap.signed(), um = DynamicQuantMap.unsigned();
        float[] theta = new float[n];
        for (int i = 0; i < n; i++) theta[i] = (float) rng.nextGaussian();
        Var p = Var.param(Tensor.of(theta.clone(), n));
        // reference state: dequantized moments as they would be stored
        float[] mRef = new float[n], vRef = new float[n];
        double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
        try (AdamW8bit opt = new AdamW8bit(List.of(new ParamGroup(List.of(p), lr, wd)), b1, b2, eps, block, 0)) {
            for (int t = 1; t <= 3; t++) {
                float[] g = new float[n];
                for (int i = 0; i < n; i++) g[i] = (float) (rng.nextGaussian() * Math.pow(10, -rng.nextInt(4)));
                p.setGrad(Tensor.of(g.clone(), n));
                opt.step();
                for (int start = 0; start < n; start += block) {
                    int end = Math.min(n, start + block);
                    float[] m = new float[end - start], v = new float[end - start];
                    float mMax = 0, vMax = 0;
                    for (int i = start; i < end; i++) {
                        m[i - start] = (float) (b1 * mRef[i] + (1 - b1) * g[i]);
                        v[i - start] = (float) (b2 * vRef[i] + (1 - b2) * g[i] * g[i]);
                        mMax = Math.max(mMax, Math.abs(m[i - start]));
                        vMax = Math.max(vMax, v[i - start]);
                        double mHat = m[i - start] / (1 - Math.pow(b1, t)), vHat = v[i - start] / (1 - Math.pow(b2, t));
                        theta[i] = (float) (theta[i] * (1 - lr * wd) - lr * mHat / (Math.sqrt(vHat) + eps));
                    }
                    for (int i = start; i < end; i++) { // requantize: nearest code of value / absmax, times absmax
                        mRef[i] = sm.decode(sm.encode(m[i - start] / mMax)) * mMax;
                        vRef[i] = um.decode(um.encode(v[i - start] / vMax)) * vMax;
                    }
                }
                for (int i = 0; i < n; i++)
                    assertEquals(theta[i], p.data().getFloat(i), 1e-5 * (1 + Math.abs(theta[i])), "parameter " + i + " at step " + t);
            }
            Tensor codes = opt.state(p).tensors().get("exp_avg_code"), scales = opt.state(p).tensors().get("exp_avg_absmax");
            assertEquals(DType.U8, codes.dtype());
            assertArrayEquals(new int[] {3}, scales.shape());
            for (int i = 0; i < n; i++)
                assertEquals(mRef[i], sm.decode((int) codes.getDouble(i)) * scales.getFloat(i / block), 1e-6f * Math.abs(mRef[i]) + 1e-12f);
        }
        p.close();
    }

    @Test
    void smallParametersKeepFp32Moments() {
        Var p = Var.param(Tensor.zeros(DType.F32, 10));
        try (AdamW8bit opt = new AdamW8bit(List.of(p))) {
            p.setGrad(Tensor.full(DType.F32, 1.0, 10));
            opt.step();
            assertTrue(opt.state(p).tensors().containsKey("exp_avg"));
            assertEquals(-1e-3, p.data().getDouble(0), 1e-7); // first Adam step moves by lr·sign(g)
        }
        p.close();
    }
}
