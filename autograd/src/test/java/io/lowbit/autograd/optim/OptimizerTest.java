package io.lowbit.autograd.optim;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Optimizers against hand-computed update sequences; clipping, schedules and state dicts. */
@ExtendWith(NoLeaks.class)
class OptimizerTest {

    private static Var scalarParam(DType dt, double v) {
        return Var.param(Tensor.zeros(dt, 1).fill(v));
    }

    private static void setGrad(Var p, double... g) {
        Tensor t = Tensor.empty(p.dtype(), p.shape());
        for (int i = 0; i < g.length; i++) t.setDouble(i, g[i]);
        p.setGrad(t);
    }

    @Test
    void adamWMatchesHandComputedSteps() {
        // θ₀ = 1, lr 0.1, λ 0.01, betas (0.9, 0.999), eps 1e-8, gradients 0.5, −0.3, 0.2.
        // Step 1 by hand: θ = 1·(1 − 0.001) − 0.1·0.5/(0.5 + 1e-8) = 0.899000002.
        double[] expected = {0.899000002, 0.8789511989397751, 0.8433294795899422};
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            Var p = scalarParam(dt, 1.0);
            try (AdamW opt = new AdamW(List.of(p), 0.1, 0.9, 0.999, 1e-8, 0.01)) {
                double[] grads = {0.5, -0.3, 0.2};
                for (int t = 0; t < 3; t++) {
                    setGrad(p, grads[t]);
                    opt.step();
                    assertEquals(expected[t], p.data().getDouble(0), dt == DType.F64 ? 1e-15 : 1e-6, dt + " step " + (t + 1));
                }
                assertEquals(3, opt.state(p).step());
                assertEquals(MemoryCategory.OPTIMIZER, opt.state(p).tensors().get("exp_avg").category());
            }
            p.close();
        }
    }

    @Test
    void f32FastPathsMatchTheF64Loops() {
        for (int n : new int[] {1, 7, 31, 33, 63, 65, 127, 129}) {
            Rng rng = new Rng(n);
            Tensor init = Tensor.normal(DType.F64, rng, 0, 1, n);
            Var p64 = Var.param(init.copy()), p32 = Var.param(init.to(DType.F32)), s64 = Var.param(init.copy()), s32 = Var.param(init.to(DType.F32));
            try (AdamW a64 = new AdamW(List.of(p64), 0.01, 0.9, 0.99, 1e-8, 0.1); AdamW a32 = new AdamW(List.of(p32), 0.01, 0.9, 0.99, 1e-8, 0.1);
                 SGD g64 = new SGD(List.of(s64), 0.1, 0.9, 0.1, 0.01, false); SGD g32 = new SGD(List.of(s32), 0.1, 0.9, 0.1, 0.01, false)) {
                for (int t = 0; t < 4; t++) {
                    Tensor g = Tensor.normal(DType.F64, rng, 0, 1, n);
                    p64.setGrad(g.copy());
                    s64.setGrad(g.copy());
                    p32.setGrad(g.to(DType.F32));
                    s32.setGrad(g.to(DType.F32));
                    g.close();
                    a64.step();
                    a32.step();
                    g64.step();
                    g32.step();
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(p64.data().getDouble(i), p32.data().getDouble(i), 1e-5, "AdamW n=" + n + " element " + i);
                    assertEquals(s64.data().getDouble(i), s32.data().getDouble(i), 1e-5, "SGD n=" + n + " element " + i);
                }
            }
            for (Var v : new Var[] {p64, p32, s64, s32}) v.close();
            init.close();
        }
    }

    @Test
    void adamWDefaultsArePyTorchs() {
        Var p = scalarParam(DType.F64, 2.0);
        try (AdamW opt = new AdamW(List.of(p))) {
            assertEquals(1e-3, opt.paramGroups().get(0).lr());
            assertEquals(1e-2, opt.paramGroups().get(0).weightDecay());
            assertEquals(0.9, opt.beta1);
            assertEquals(0.999, opt.beta2);
            assertEquals(1e-8, opt.eps);
        }
        p.close();
    }

    @Test
    void sgdMomentumAndNesterovMatchHandComputedSteps() {
        double[] grads = {1, 2, -1};
        // momentum 0.9, lr 0.1: b = 1, 2.9, 1.61 -> θ = 0.9, 0.61, 0.449
        Var p = scalarParam(DType.F64, 1.0);
        try (SGD opt = new SGD(List.of(p), 0.1, 0.9, 0, 0, false)) {
            double[] expect = {0.9, 0.61, 0.449};
            for (int t = 0; t < 3; t++) {
                setGrad(p, grads[t]);
                opt.step();
                assertEquals(expect[t], p.data().getDouble(0), 1e-12);
            }
        }
        // the F32 fast path agrees
        Var p32 = scalarParam(DType.F32, 1.0);
        try (SGD opt = new SGD(List.of(p32), 0.1, 0.9, 0, 0, false)) {
            double[] expect = {0.9, 0.61, 0.449};
            for (int t = 0; t < 3; t++) {
                setGrad(p32, grads[t]);
                opt.step();
                assertEquals(expect[t], p32.data().getDouble(0), 1e-6);
            }
        }
        p32.close();
        // Nesterov: g + 0.9·b = 1.9, 4.61, 0.449 -> θ = 0.81, 0.349, 0.3041
        Var q = scalarParam(DType.F64, 1.0);
        try (SGD opt = new SGD(List.of(q), 0.1, 0.9, 0, 0, true)) {
            double[] expect = {0.81, 0.349, 0.3041};
            for (int t = 0; t < 3; t++) {
                setGrad(q, grads[t]);
                opt.step();
                assertEquals(expect[t], q.data().getDouble(0), 1e-12);
            }
        }
        // weight decay (L2, coupled): g = 1 + 0.5·1 = 1.5 -> θ = 1 − 0.1·1.5 = 0.85
        Var r = scalarParam(DType.F64, 1.0);
        try (SGD opt = new SGD(List.of(r), 0.1, 0, 0, 0.5, false)) {
            setGrad(r, 1);
            opt.step();
            assertEquals(0.85, r.data().getDouble(0), 1e-12);
        }
        p.close();
        q.close();
        r.close();
    }

    @Test
    void parameterGroupsUseTheirOwnLrAndDecay() {
        Var a = scalarParam(DType.F64, 1.0), b = scalarParam(DType.F64, 1.0);
        try (AdamW opt = new AdamW(List.of(new ParamGroup(List.of(a), 0.5, 0.1), new ParamGroup(List.of(b), 0.5, 0.0)), 0.9, 0.999, 1e-8)) {
            setGrad(a, 0);
            setGrad(b, 0);
            opt.step(); // zero gradient: only the decoupled decay θ·(1 − lr·λ) acts
            assertEquals(0.95, a.data().getDouble(0), 1e-15);
            assertEquals(1.0, b.data().getDouble(0), 1e-15);
        }
        a.close();
        b.close();
    }

    @Test
    void clipGradNormScalesToTheMaximum() {
        Var a = Var.param(Tensor.zeros(DType.F32, 2)), b = Var.param(Tensor.zeros(DType.F64, 1));
        setGrad(a, 3, 0);
        setGrad(b, 4);
        assertEquals(5.0, ClipGrad.clipGradNorm(List.of(a, b), 1.0), 1e-12);
        assertEquals(0.6, a.grad().getDouble(0), 1e-6);
        assertEquals(0.8, b.grad().getDouble(0), 1e-6);
        assertEquals(1.0, ClipGrad.clipGradNorm(List.of(a, b), 10.0), 1e-5, "below the max nothing changes");
        assertEquals(0.6, a.grad().getDouble(0), 1e-6);
        a.close();
        b.close();
    }

    @Test
    void schedules() {
        Schedule cos = Schedule.warmupCosine(10, 110, 0.1);
        assertEquals(0.0, cos.multiplier(0));
        assertEquals(0.5, cos.multiplier(5), 1e-12);
        assertEquals(1.0, cos.multiplier(10), 1e-12);
        assertEquals(0.55, cos.multiplier(60), 1e-12); // halfway: 0.1 + 0.9·0.5
        assertEquals(0.1, cos.multiplier(110), 1e-12);
        assertEquals(0.1, cos.multiplier(500), 1e-12);
        Schedule lin = Schedule.linear(2, 10);
        assertEquals(0.5, lin.multiplier(1), 1e-12);
        assertEquals(1.0, lin.multiplier(2), 1e-12);
        assertEquals(0.5, lin.multiplier(6), 1e-12);
        assertEquals(0.0, lin.multiplier(12), 1e-12);
        assertEquals(1.0, Schedule.constant().multiplier(1234));
        assertThrows(IllegalArgumentException.class, () -> Schedule.linear(5, 2));

        Var p = scalarParam(DType.F64, 1);
        try (AdamW opt = new AdamW(List.of(p), 0.2, 0.9, 0.999, 1e-8, 0)) {
            LrScheduler sched = new LrScheduler(Schedule.linear(2, 10), opt);
            assertEquals(0.0, opt.paramGroups().get(0).lr());
            sched.step();
            assertEquals(0.1, opt.paramGroups().get(0).lr(), 1e-15);
            sched.setStep(6);
            assertEquals(0.1, opt.paramGroups().get(0).lr(), 1e-15);
        }
        p.close();
    }

    @Test
    void stateDictRoundTripResumesExactly() {
        Tensor init = Tensor.of(new float[] {0.5f, -1f, 2f, 0.25f}, 4);
        Var p = Var.param(init.copy()), q = Var.param(init.copy());
        double[][] grads = {{0.1, -0.2, 0.3, 0.05}, {0.2, 0.1, -0.1, 0.4}, {-0.3, 0.2, 0.1, 0.0}};
        try (AdamW a = new AdamW(List.of(p), 0.05, 0.9, 0.99, 1e-8, 0.1); AdamW b = new AdamW(List.of(q), 0.05, 0.9, 0.99, 1e-8, 0.1)) {
            for (int t = 0; t < 2; t++) {
                setGrad(p, grads[t]);
                a.step();
            }
            q.data().copyFrom(p.data());
            Map<String, Tensor> saved = new LinkedHashMap<>();
            a.stateDict().forEach((k, v) -> saved.put(k, v.copy()));
            assertEquals(List.of("0.exp_avg", "0.exp_avg_sq"), List.copyOf(saved.keySet()));
            b.loadStateDict(saved, a.stepCounts());
            setGrad(p, grads[2]);
            setGrad(q, grads[2]);
            a.step();
            b.step();
            assertArrayEquals(p.data().toFloatArray(), q.data().toFloatArray());
            Map<String, Tensor> bad = Map.of("0.exp_avg", saved.get("0.exp_avg").reshape(2, 2));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(bad, Map.of(0, 2L)));
            assertTrue(e.getMessage().contains("[2, 2]") && e.getMessage().contains("[4]"), e.getMessage());
            saved.values().forEach(Tensor::close);
        }
        init.close();
        p.close();
        q.close();
        assertEquals(0, Allocator.liveBytes(MemoryCategory.OPTIMIZER));
    }
}
