package io.lowbit.autograd.optim;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The skip / back off / grow behaviour of dynamic loss scaling, its exactness, and the underflow it exists to prevent. */
@ExtendWith(NoLeaks.class)
class DynamicLossScalerTest {
    private static final int N = 37;

    /** Gradients of loss = c·Σ (w·x − y)² into w (scaled by the scaler when given); returns the loss. */
    private static double backward(Var w, Tensor x, Tensor y, double c, DynamicLossScaler scaler) {
        try (MemoryScope _ = MemoryScope.open()) {
            Var loss = w.mul(Var.of(x)).sub(Var.of(y)).square().sum().mul(c);
            double l = loss.item();
            (scaler == null ? loss : scaler.scale(loss)).backwardAndRelease();
            return l;
        }
    }

    private static Tensor randn(long seed) {
        return Tensor.normal(DType.F32, new Rng(seed), 0, 1, N);
    }

    @Test
    void withoutOverflowScaledTrainingIsBitForBitUnscaledTraining() {
        // a power-of-two scale only moves exponents: S·g/S == g exactly, including across a growth of S
        try (Tensor x = randn(1); Tensor y = randn(2); Tensor init = randn(3);
             Var a = Var.param(init.copy()); Var b = Var.param(init.copy());
             AdamW oa = new AdamW(List.of(a), 0.05, 0.9, 0.999, 1e-8, 0.01);
             AdamW ob = new AdamW(List.of(b), 0.05, 0.9, 0.999, 1e-8, 0.01)) {
            DynamicLossScaler scaler = new DynamicLossScaler(1024, 2, 0.5, 3);
            for (int t = 0; t < 8; t++) {
                assertEquals(backward(b, x, y, 1, null), backward(a, x, y, 1, scaler), "loss at step " + t);
                assertTrue(scaler.step(oa), "step " + t + " is finite");
                ob.step();
                oa.zeroGrad();
                ob.zeroGrad();
                assertArrayEquals(b.data().toFloatArray(), a.data().toFloatArray(), "parameters after step " + t);
            }
            assertEquals(4096, scaler.scale(), "grown twice (after 3 and 6 good steps)");
            assertEquals(2, scaler.goodSteps());
            assertEquals(0, scaler.skippedSteps());
        }
    }

    @Test
    void overflowSkipsTheStepAndHalvesTheScaleUntilGradientsFit() {
        // S = 2^126: S·loss overflows float, so the first steps are skipped until S is small enough
        try (Tensor x = randn(4); Tensor y = randn(5); Tensor init = randn(6);
             Var a = Var.param(init.copy()); Var b = Var.param(init.copy());
             AdamW oa = new AdamW(List.of(a), 0.05, 0.9, 0.999, 1e-8, 0);
             AdamW ob = new AdamW(List.of(b), 0.05, 0.9, 0.999, 1e-8, 0)) {
            DynamicLossScaler scaler = new DynamicLossScaler(Math.scalb(1.0, 126), 2, 0.5, 2000);
            int skips = 0;
            while (true) {
                double before = scaler.scale();
                backward(a, x, y, 1, scaler);
                boolean stepped = scaler.step(oa);
                oa.zeroGrad();
                if (stepped) break;
                skips++;
                assertEquals(before / 2, scaler.scale(), "halved after skip " + skips);
                assertEquals(skips, scaler.skippedSteps());
                assertEquals(0, scaler.goodSteps());
                assertArrayEquals(init.toFloatArray(), a.data().toFloatArray(), "a skipped step leaves the parameters untouched");
                assertTrue(oa.stepCounts().isEmpty(), "a skipped step leaves the optimizer state untouched");
                assertTrue(skips < 126, "never fits");
            }
            assertTrue(skips >= 1, "2^126 must overflow");
            assertEquals(1, scaler.goodSteps());
            assertEquals(Math.scalb(1.0, 126 - skips), scaler.scale());
            // the first good step is exactly the unscaled first step
            backward(b, x, y, 1, null);
            ob.step();
            ob.zeroGrad();
            assertArrayEquals(b.data().toFloatArray(), a.data().toFloatArray());
            assertEquals(1L, oa.stepCounts().get(0));
        }
    }

    @Test
    void nanGradientIsSkippedAndGoodStepsGrowTheScale() {
        DynamicLossScaler s = new DynamicLossScaler(8, 2, 0.5, 3);
        try (Var p = Var.param(Tensor.zeros(DType.F32, 4)); SGD opt = new SGD(List.of(p), 1.0)) {
            for (int t = 0; t < 3; t++) {
                p.setGrad(Tensor.full(DType.F32, 8, 4)); // unscaled: 1
                assertTrue(s.step(opt));
                p.zeroGrad();
            }
            assertEquals(16, s.scale(), "grown after 3 good steps");
            assertEquals(0, s.goodSteps());
            assertArrayEquals(new float[] {-3, -3, -3, -3}, p.data().toFloatArray(), "three SGD steps of the unscaled gradient 1");
            p.setGrad(Tensor.full(DType.F32, 16, 4));
            assertTrue(s.step(opt));
            p.zeroGrad();
            assertEquals(1, s.goodSteps());
            Tensor g = Tensor.full(DType.F32, 16, 4);
            g.setDouble(2, Double.NaN);
            p.setGrad(g);
            assertFalse(s.step(opt), "a NaN gradient skips the step");
            p.zeroGrad();
            assertEquals(8, s.scale());
            assertEquals(0, s.goodSteps(), "the growth count restarts");
            assertEquals(1, s.skippedSteps());
            assertArrayEquals(new float[] {-4, -4, -4, -4}, p.data().toFloatArray(), "parameters unchanged by the skipped step");
        }
        s.restore(32, 2);
        assertEquals(32, s.scale());
        assertEquals(2, s.goodSteps());
        s.update(true);
        assertEquals(64, s.scale());
    }

    @Test
    void scalingKeepsF16GradientsThatWouldUnderflowToZero() {
        // c = 1e-9 makes every gradient ~1e-9, below f16's smallest subnormal (2^-24 ≈ 6e-8); gradients are
        // stored in f16 (rounded through DType.F16), as a reduced-precision backward would leave them
        try (Tensor x = randn(7); Tensor y = randn(8); Tensor init = randn(9); Var a = Var.param(init.copy()); Var b = Var.param(init.copy())) {
            DynamicLossScaler scaler = new DynamicLossScaler();
            backward(a, x, y, 1e-9, null);
            backward(b, x, y, 1e-9, scaler);
            try (Tensor exact = a.grad().copy()) {
                for (Var v : List.of(a, b)) {
                    Tensor g16 = v.grad().to(DType.F16);
                    v.setGrad(g16.to(DType.F32));
                    g16.close();
                }
                assertTrue(scaler.unscale(List.of(b)));
                int zeros = 0;
                for (int i = 0; i < N; i++) {
                    if (a.grad().getDouble(i) == 0) zeros++;
                    double e = exact.getDouble(i);
                    // f16 keeps 11 significant bits, and below 2^-14 a fixed spacing of 2^-24 (rounding: half of it, divided by S)
                    double tol = Math.max(Math.abs(e) * Math.scalb(1.0, -11), Math.scalb(1.0, -25) / scaler.scale());
                    assertEquals(e, b.grad().getDouble(i), tol, "scaled f16 gradient " + i);
                }
                assertEquals(N, zeros, "unscaled f16 gradients all underflow");
            }
            a.zeroGrad();
            b.zeroGrad();
        }
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler(0, 2, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler(Double.POSITIVE_INFINITY, 2, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler(8, 1, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler(8, 2, 1, 10));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler(8, 2, 0.5, 0));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler().restore(Double.NaN, 0));
        assertThrows(IllegalArgumentException.class, () -> new DynamicLossScaler().restore(8, 2000));
    }
}
