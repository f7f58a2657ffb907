package io.lowbit.quant.fakequant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class FakeQuantTest {
    @Test
    void roundSteRoundsTiesToEvenAndPassesTheGradientThrough() {
        try (MemoryScope s = MemoryScope.open()) {
            Var x = new Var(Tensor.of(new double[] {0.5, 1.5, -0.5, 2.4, -2.6, 3.0}, 6), true);
            Var y = FakeQuant.roundSte(x);
            assertArrayEquals(new double[] {0, 2, -0.0, 2, -3, 3}, y.data().toDoubleArray());
            Tensor g = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 6);
            y.backward(g);
            assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, x.grad().toDoubleArray());
            x.zeroGrad();
        }
    }

    /** 3-bit signed grid (Q_N = −4, Q_P = 3), s = 0.5, worked by hand. */
    @Test
    void lsqMatchesAHandComputedCase() {
        try (MemoryScope sc = MemoryScope.open()) {
            Var v = new Var(Tensor.of(new double[] {0.3, -0.74, 1.9, -2.5, 0.25, 1.49}, 6), true);
            Var s = new Var(Tensor.of(new double[] {0.5}, 1), true);
            Var q = FakeQuant.lsq(v, s, AffineSpec.perTensor(3, true));
            // v/s = 0.6, −1.48, 3.8 (clipped to 3), −5 (clipped to −4), 0.5 (ties to 0), 2.98
            assertArrayEquals(new double[] {0.5, -0.5, 1.5, -2.0, 0.0, 1.5}, q.data().toDoubleArray(), 1e-15);
            Var loss = F.sum(q);
            loss.backward();
            assertArrayEquals(new double[] {1, 1, 0, 0, 1, 1}, v.grad().toDoubleArray(), "straight-through inside, zero when clipped");
            // ∂/∂s: 0.4 + 0.48 + 3 − 4 − 0.5 + 0.02 = −0.6, times g = 1/√(6·3)
            assertEquals(-0.6 / Math.sqrt(18), s.grad().getDouble(0), 1e-12);
            v.zeroGrad();
            s.zeroGrad();
        }
    }

    @Test
    void unsignedGridUsesZeroToTwoToTheBitsMinusOne() {
        AffineSpec spec = AffineSpec.perTensor(2, false);
        assertEquals(0, LsqFakeQuant.qmin(spec));
        assertEquals(3, LsqFakeQuant.qmax(spec));
        try (MemoryScope sc = MemoryScope.open()) {
            Var q = new LsqFakeQuant(spec, true).apply(new Var(Tensor.of(new double[] {-1, 0.9, 2.2, 9}, 4)), new Var(Tensor.of(new double[] {1}, 1)));
            assertArrayEquals(new double[] {0, 1, 2, 3}, q.data().toDoubleArray());
        }
    }

    /** Per-channel and per-group steps act exactly like per-tensor LSQ on each slice. */
    @Test
    void perChannelAndPerGroupEqualPerTensorOnEachSlice() {
        int rows = 5, cols = 13, group = 4;
        try (MemoryScope sc = MemoryScope.open()) {
            Tensor vt = Tensor.normal(DType.F64, new Rng(1), 0, 1, rows, cols);
            Tensor gy = Tensor.normal(DType.F64, new Rng(2), 0, 1, rows, cols);
            for (AffineSpec spec : new AffineSpec[] {AffineSpec.perChannel(3, true), AffineSpec.perGroup(3, true, group)}) {
                Tensor s0 = LsqFakeQuant.initScale(vt, spec);
                Var v = new Var(vt, true), s = new Var(s0, true);
                Var q = new LsqFakeQuant(spec, false).apply(v, s);
                q.backward(gy);
                int ng = spec.numGroups(cols);
                for (int r = 0; r < rows; r++)
                    for (int gi = 0; gi < (spec.groupSize() > 0 ? ng : 1); gi++) {
                        int c0 = spec.groupSize() > 0 ? gi * group : 0, c1 = spec.groupSize() > 0 ? Math.min(cols, c0 + group) : cols;
                        int k = spec.groupSize() > 0 ? r * ng + gi : r;
                        Var vs = new Var(vt.narrow(0, r, 1).narrow(1, c0, c1 - c0).contiguous().reshape(c1 - c0), true);
                        Var ss = new Var(Tensor.of(new double[] {s0.getDouble(k)}, 1), true);
                        Var qs = new LsqFakeQuant(AffineSpec.perTensor(3, true), false).apply(vs, ss);
                        qs.backward(gy.narrow(0, r, 1).narrow(1, c0, c1 - c0).contiguous().reshape(c1 - c0));
                        for (int c = c0; c < c1; c++) {
                            assertEquals(qs.data().getDouble(c - c0), q.data().get(r, c), 1e-15, spec + " forward at " + r + "," + c);
                            assertEquals(vs.grad().getDouble(c - c0), v.grad().get(r, c), 1e-15);
                        }
                        assertEquals(ss.grad().getDouble(0), s.grad().getDouble(k), 1e-12, spec + " step gradient " + k);
                        vs.zeroGrad();
                        ss.zeroGrad();
                    }
                // the gradient scale multiplies exactly by 1/√(N·Q_P)
                Var v2 = new Var(vt, true), s2 = new Var(s0, true);
                new LsqFakeQuant(spec, true).apply(v2, s2).backward(gy);
                double g = 1 / Math.sqrt(rows * cols * 3.0);
                for (int k = 0; k < s0.numel(); k++) assertEquals(g * s.grad().getDouble(k), s2.grad().getDouble(k), 1e-14);
                v.zeroGrad();
                s.zeroGrad();
                v2.zeroGrad();
                s2.zeroGrad();
            }
        }
    }

    /**
     * Where LSQ is differentiable in s without the straight-through assumption — every value clipped, so
     * v̂ = s·Q_N or s·Q_P — the step gradient equals central finite differences (F64).
     */
    @Test
    void clippedStepGradientMatchesFiniteDifferences() {
        try (MemoryScope sc = MemoryScope.open()) {
            Tensor vt = Tensor.of(new double[] {9.1, -7.3, 12.0, -20.5, 8.8, -9.9, 15.0, 30.0}, 2, 4);
            Var v = new Var(vt);
            Var s = new Var(Tensor.of(new double[] {0.7, 0.9}, 2), true);
            Var w = new Var(Tensor.normal(DType.F64, new Rng(3), 0, 1, 2, 4));
            GradCheck.assertGradients(in -> F.sum(F.mul(new LsqFakeQuant(AffineSpec.perChannel(3, true), false).apply(v, in[0]), w)), s);
        }
    }

    @Test
    void badStepsAndShapesAreClearErrors() {
        try (MemoryScope sc = MemoryScope.open()) {
            Var v = new Var(Tensor.zeros(DType.F64, 3, 8));
            var e = assertThrows(IllegalArgumentException.class,
                    () -> FakeQuant.lsq(v, new Var(Tensor.of(new double[] {1, 1}, 2)), AffineSpec.perChannel(4, true)));
            assertTrue(e.getMessage().contains("[2]") && e.getMessage().contains("[3, 8]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> FakeQuant.lsq(v, new Var(Tensor.of(new double[] {0}, 1)), AffineSpec.perTensor(4, true)));
            assertTrue(e.getMessage().contains("s[0]"), e.getMessage());
        }
    }
}
