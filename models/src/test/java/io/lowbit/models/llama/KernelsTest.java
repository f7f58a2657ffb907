package io.lowbit.models.llama;

import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.*;

/** Each vector kernel against a plain double loop on odd lengths and offsets. */
@ExtendWith(NoLeaks.class)
class KernelsTest {
    static final int[] SIZES = {1, 7, 31, 33, 63, 65, 127, 129};

    static float[] random(int n, long seed) {
        Rng r = new Rng(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void dotProducts() {
        for (int n : SIZES) {
            float[] w = random(n + 5, n), x = random(n + 3, n + 1);
            double ref = 0;
            for (int i = 0; i < n; i++) ref += (double) w[i + 5] * x[i + 3];
            assertEquals(ref, Kernels.dot(w, 5, x, 3, n), 1e-5 * Math.sqrt(n), "array dot n=" + n);
        }
    }

    @Test
    void expIsAccurateAndTheVectorAndScalarFormsAgreeBitForBit() {
        int len = Kernels.S.length();
        float[] xs = new float[len];
        double worst = 0;
        for (int j = 0; j <= 40000; j++) {
            float x = -90f * j / 40000;
            float e = Kernels.exp(x);
            double ref = Math.exp(x);
            if (x >= -87.33f) worst = Math.max(worst, Math.abs(e - ref) / ref);
            else if (x < -87.34f) assertEquals(0f, e, "e^" + x + " is below the normal range");
            xs[j % len] = x;
            if (j % len == len - 1) {
                float[] v = new float[len];
                Kernels.exp(jdk.incubator.vector.FloatVector.fromArray(Kernels.S, xs, 0)).intoArray(v, 0);
                for (int i = 0; i < len; i++) assertEquals(Kernels.exp(xs[i]), v[i], 0f, "lane " + i + " x=" + xs[i]);
            }
        }
        assertTrue(worst < 3e-7, "relative error " + worst);
        assertEquals(1f, Kernels.exp(0f));
    }

    @Test
    void rmsnormSoftmaxAndGate() {
        for (int n : SIZES) {
            float[] x = random(n + 4, n), g = random(n, n + 9), out = new float[n + 1];
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double) x[i + 4] * x[i + 4];
            double inv = 1 / Math.sqrt(ss / n + 1e-5);
            try (Tensor gt = Tensor.of(g, n)) {
                Kernels.rmsnorm(out, 1, x, 4, gt.segment(), n, 1e-5f);
            }
            for (int i = 0; i < n; i++) assertEquals(x[i + 4] * inv * g[i], out[i + 1], 1e-5, "rmsnorm n=" + n);

            float[] s = random(n + 2, 3 * n);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < n; i++) max = Math.max(max, s[i + 2]);
            for (int i = 0; i < n; i++) sum += Math.exp(s[i + 2] - max);
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) ref[i] = Math.exp(s[i + 2] - max) / sum;
            Kernels.softmax(s, 2, n);
            for (int i = 0; i < n; i++) assertEquals(ref[i], s[i + 2], 1e-6, "softmax n=" + n);

            float[] h = random(n, 5 * n), u = random(n, 6 * n);
            for (int i = 0; i < n; i += 5) h[i] *= 40; // far into both tails, where e^(−z) would overflow
            float[] h0 = h.clone();
            Kernels.siluMul(h, 0, u, 0, n);
            for (int i = 0; i < n; i++) {
                double gate = h0[i] / (1 + Math.exp(-h0[i])) * u[i];
                assertEquals(gate, h[i], 1e-6 * Math.max(1, Math.abs(gate)), "silu gate n=" + n + " z=" + h0[i]);
            }
        }
    }
}
