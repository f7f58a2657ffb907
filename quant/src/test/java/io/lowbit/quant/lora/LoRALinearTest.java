package io.lowbit.quant.lora;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class LoRALinearTest {
    @Test
    void startsAsTheFrozenWeightAndMatchesTheHandFormula() {
        // W = [[1, 2], [3, 4]], A = [[1, 1]] (r = 1), B = [[2], [0]], scale 0.5 ⇒ W_eff = [[2, 3], [3, 4]]
        Rng rng = new Rng(1);
        try (Tensor w = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2); LoRALinear l = new LoRALinear(w, null, 1, 0.5, rng);
             MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.of(new float[] {1, -1}, 1, 2);
            assertArrayEquals(new float[] {-1, -1}, l.forward(Var.of(x)).data().toFloatArray(), "B = 0: y = x·W₀ᵀ");
            double bound = 1 / Math.sqrt(2);
            assertTrue(l.loraA().data().absMax() <= bound && l.loraA().data().absMax() > 0, "A ~ U(±1/√in)");
            l.loraA().data().copyFrom(Tensor.of(new float[] {1, 1}, 1, 2));
            l.loraB().data().copyFrom(Tensor.of(new float[] {2, 0}, 2, 1));
            assertArrayEquals(new float[] {2, 3, 3, 4}, l.effectiveWeight().toFloatArray());
            assertArrayEquals(new float[] {-1, -1}, l.forward(Var.of(x)).data().toFloatArray()); // [2-3, 3-4]
            assertFalse(l.weight().requiresGrad(), "W₀ is frozen");
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Rng rng = new Rng(2);
        try (Tensor w = Tensor.normal(DType.F64, rng, 0, 1, 5, 7); Tensor b = Tensor.normal(DType.F64, rng, 0, 1, 5);
             LoRALinear l = new LoRALinear(w, b, 3, 0.8, rng)) {
            try (MemoryScope s = MemoryScope.open()) {
                l.loraB().data().copyFrom(Tensor.normal(DType.F64, rng, 0, 1, 5, 3));
            }
            Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 7));
            GradCheck.assertGradients(in -> l.forward(in[0]), x, l.loraA(), l.loraB(), l.bias());
            x.close();
        }
    }

    @Test
    void gradientOfAnUnfrozenBaseWeightMatchesFiniteDifferences() {
        Rng rng = new Rng(4);
        try (Tensor w = Tensor.normal(DType.F64, rng, 0, 1, 4, 3); LoRALinear l = new LoRALinear(w, null, 2, 1.5, rng)) {
            try (MemoryScope s = MemoryScope.open()) {
                l.loraB().data().copyFrom(Tensor.normal(DType.F64, rng, 0, 1, 4, 2));
            }
            l.weight().requiresGrad(true);
            Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 2, 3));
            GradCheck.assertGradients(in -> l.forward(in[0]), x, l.weight(), l.loraA(), l.loraB());
            x.close();
        }
    }

    @Test
    void forwardKeepsOnlyTheOutputAndTheRankRProjection() {
        // activation memory of one training forward: y [n, out] plus u = x·Aᵀ [n, r] (x belongs to the caller)
        Rng rng = new Rng(5);
        int n = 32, in = 24, out = 40, r = 4;
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 1, out, in); LoRALinear l = new LoRALinear(w, null, r, 0.5, rng);
             Tensor xt = Tensor.normal(DType.F32, rng, 0, 1, n, in)) {
            try (MemoryScope s = MemoryScope.open()) {
                long before = io.lowbit.tensor.Allocator.liveBytes(io.lowbit.tensor.MemoryCategory.ACTIVATIONS);
                Var y = l.forward(Var.of(xt));
                long kept = io.lowbit.tensor.Allocator.liveBytes(io.lowbit.tensor.MemoryCategory.ACTIVATIONS) - before;
                assertEquals((long) n * (out + r) * Float.BYTES, kept, "bytes alive after forward");
                y.sum().backwardAndRelease();
                assertNotNull(l.loraA().grad());
                l.loraA().zeroGrad();
                l.loraB().zeroGrad();
            }
        }
    }

    @Test
    void mergeAndReinitKeepsTheFunction() {
        Rng rng = new Rng(3);
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 1, 6, 4); LoRALinear l = new LoRALinear(w, null, 2, 0.5, rng)) {
            try (MemoryScope s = MemoryScope.open()) {
                l.loraB().data().copyFrom(Tensor.normal(DType.F32, rng, 0, 1, 6, 2));
            }
            float[] oldA = l.loraA().data().toFloatArray();
            try (Tensor before = l.effectiveWeight()) {
                var a = l.loraA();
                l.mergeAndReinit(rng);
                assertSame(a, l.loraA());
                assertEquals(0, l.loraB().data().absMax(), 0, "B restarts at zero");
                assertFalse(java.util.Arrays.equals(oldA, l.loraA().data().toFloatArray()), "A is redrawn");
                try (Tensor after = l.effectiveWeight()) {
                    assertTrue(before.allClose(after, 1e-6, 1e-6), "W_eff unchanged by the restart");
                }
            }
        }
    }
}
