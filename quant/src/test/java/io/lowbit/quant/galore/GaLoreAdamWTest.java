package io.lowbit.quant.galore;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.linalg.Svd;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** GaLore's projected Adam against the formula computed in plain double loops. */
@ExtendWith(NoLeaks.class)
class GaLoreAdamWTest {
    /** Reference: states in double, P from the exact SVD of the gradient at steps 1, τ+1, … */
    private static final class Ref {
        final int m, n, r;
        final boolean left;
        double[] p, mom, vel;

        Ref(int m, int n, int r) {
            this.m = m;
            this.n = n;
            this.r = r;
            left = m <= n;
            int size = left ? r * n : m * r;
            mom = new double[size];
            vel = new double[size];
        }

        void step(double[] w, double[] g, int t, int tau, double lr, double wd, double scale, double b1, double b2, double eps) {
            if ((t - 1) % tau == 0) {
                Svd.Result s = Svd.jacobi(g, m, n);
                p = left ? new double[m * r] : new double[n * r];
                if (left) for (int i = 0; i < m; i++) for (int c = 0; c < r; c++) p[i * r + c] = s.u()[i * s.k() + c];
                else for (int j = 0; j < n; j++) for (int c = 0; c < r; c++) p[j * r + c] = s.vt()[c * n + j];
            }
            double[] rg = left ? Svd.matmul(Svd.transpose(p, m, r), g, r, m, n) : Svd.matmul(g, p, m, n, r);
            double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
            double[] nn = new double[rg.length];
            for (int i = 0; i < rg.length; i++) {
                mom[i] = b1 * mom[i] + (1 - b1) * rg[i];
                vel[i] = b2 * vel[i] + (1 - b2) * rg[i] * rg[i];
                nn[i] = (mom[i] / bc1) / (Math.sqrt(vel[i] / bc2) + eps);
            }
            double[] dw = left ? Svd.matmul(p, nn, m, r, n) : Svd.matmul(nn, Svd.transpose(p, n, r), m, r, n);
            for (int i = 0; i < w.length; i++) w[i] = w[i] * (1 - lr * wd) - lr * scale * dw[i];
        }
    }

    @Test
    void projectedAdamMatchesTheFormulaOnBothSides() {
        Rng rng = new Rng(4);
        for (int[] sh : new int[][] {{5, 9}, {9, 5}}) {
            int m = sh[0], n = sh[1], r = 2, tau = 2;
            double lr = 0.01, wd = 0.1, scale = 0.25;
            Parameter w = new Parameter(Tensor.normal(DType.F32, rng, 0, 1, m, n));
            Parameter other = new Parameter(Tensor.normal(DType.F32, rng, 0, 1, 3));
            Parameter otherRef = new Parameter(other.data().copy());
            double[] wRef = w.data().toDoubleArray();
            Ref ref = new Ref(m, n, r);
            try (GaLoreAdamW opt = new GaLoreAdamW(List.of(new ParamGroup(List.of(w, other), lr, wd)), 0.9, 0.999, 1e-8, List.of(w), r, tau, scale, 1);
                 AdamW plain = new AdamW(List.of(otherRef), lr, 0.9, 0.999, 1e-8, wd)) {
                for (int t = 1; t <= 4; t++) {
                    try (MemoryScope s = MemoryScope.open()) {
                        Tensor g = Tensor.normal(DType.F32, rng, 0, 1, m, n);
                        Tensor go = Tensor.normal(DType.F32, rng, 0, 1, 3);
                        ref.step(wRef, g.toDoubleArray(), t, tau, lr, wd, scale, 0.9, 0.999, 1e-8);
                        w.setGrad(g.copy());
                        other.setGrad(go.copy());
                        otherRef.setGrad(go.copy());
                    }
                    opt.step();
                    plain.step();
                    opt.zeroGrad();
                    plain.zeroGrad();
                    double[] got = w.data().toDoubleArray();
                    for (int i = 0; i < got.length; i++) assertEquals(wRef[i], got[i], 2e-5, "step " + t + " element " + i);
                    assertArrayEquals(otherRef.data().toFloatArray(), other.data().toFloatArray(), 0f, "non-projected params: plain AdamW");
                }
                assertTrue(opt.isProjected(w));
                var sd = opt.stateDict();
                int big = Math.max(m, n);
                assertArrayEquals(m <= n ? new int[] {r, big} : new int[] {big, r}, sd.get("0.exp_avg").shape(), "states r×max(m, n)");
                assertEquals(MemoryCategory.OPTIMIZER, sd.get("0.galore_proj").category());
                // state round trip into a fresh optimizer
                try (GaLoreAdamW again = new GaLoreAdamW(List.of(new ParamGroup(List.of(w, other), lr, wd)), 0.9, 0.999, 1e-8, List.of(w), r, tau, scale, 1)) {
                    again.loadStateDict(sd, opt.stepCounts());
                    assertTrue(again.projection(w).allClose(opt.projection(w), 0, 0));
                }
            } finally {
                w.close();
                other.close();
                otherRef.close();
            }
        }
    }
}
