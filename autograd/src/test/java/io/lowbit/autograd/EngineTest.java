package io.lowbit.autograd;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The engine on small exact cases: ordering, accumulation, modes, hooks, custom functions and memory. */
@ExtendWith(NoLeaks.class)
class EngineTest {

    /** Straight-through rounding: forward rounds, backward passes the gradient unchanged. */
    static final class RoundSte extends Function {
        @Override protected Tensor forward(Tensor... in) { return in[0].round(); }
        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g}; }
    }

    /** A deliberately wrong backward for x²: 3x instead of 2x. GradCheck must catch it. */
    static final class WrongSquare extends Function {
        @Override protected Tensor forward(Tensor... in) {
            saveForBackward(in[0]);
            return in[0].square();
        }
        @Override protected Tensor[] backward(Tensor g) {
            try (Tensor t = saved(0).mul(3.0)) { return new Tensor[] {g.mul(t)}; }
        }
    }

    @Test
    void diamondGraphSumsBothPaths() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var a = Var.param(Tensor.of(new double[] {1, 2, 3}, 3));
            Var b = Var.param(Tensor.of(new double[] {4, 5, 6}, 3));
            Var y = F.sum(F.add(F.mul(a, b), F.mul(a, a))); // dy/da = b + 2a, dy/db = a
            assertEquals(4 + 10 + 18 + 1 + 4 + 9, y.item(), 0);
            y.backward();
            assertArrayEquals(new double[] {6, 9, 12}, a.grad().toDoubleArray());
            assertArrayEquals(new double[] {1, 2, 3}, b.grad().toDoubleArray());
            assertEquals(MemoryCategory.GRADIENTS, a.grad().category());
            a.zeroGrad();
            b.zeroGrad();
        }
    }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, -2}, 2));
            for (int i = 0; i < 3; i++) F.sum(F.square(x)).backward();
            assertArrayEquals(new double[] {6, -12}, x.grad().toDoubleArray()); // 3 · 2x
            x.zeroGrad();
            assertNull(x.grad());
            F.sum(F.mul(x, 5.0)).backward();
            assertArrayEquals(new double[] {5, 5}, x.grad().toDoubleArray());
            x.zeroGrad();
        }
    }

    @Test
    void noGradAndDetachStopTheGraph() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, 2}, 2));
            Var y;
            try (GradMode.Scope _ = GradMode.noGrad()) {
                y = F.mul(x, x);
                assertFalse(GradMode.isEnabled());
            }
            assertTrue(GradMode.isEnabled());
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> F.sum(y).backward());
            assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
            Var d = x.detach();
            assertFalse(d.requiresGrad());
            F.sum(F.add(F.mul(d, x), x)).backward(); // d/dx (d·x + x) with d constant = d + 1
            assertArrayEquals(new double[] {2, 3}, x.grad().toDoubleArray());
            x.zeroGrad();
        }
    }

    @Test
    void secondBackwardNeedsRetainGraph() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {3}, 1));
            Var y = F.sum(F.mul(x, x));
            try (Tensor one = Tensor.scalar(DType.F64, 1)) {
                y.backward(one, true);
                y.backward(one, false);
                assertEquals(12, x.grad().getDouble(0), 0);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> y.backward(one));
                assertTrue(e.getMessage().contains("second time"), e.getMessage());
            }
            x.zeroGrad();
        }
    }

    @Test
    void nonScalarBackwardNeedsAGradient() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, 2}, 2));
            Var y = F.mul(x, 2.0);
            IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("[2]"), e.getMessage());
            y.backward(Tensor.of(new double[] {1, 10}, 2));
            assertArrayEquals(new double[] {2, 20}, x.grad().toDoubleArray());
            x.zeroGrad();
        }
    }

    @Test
    void customStraightThroughFunction() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {0.4, 1.6, -2.5}, 3));
            Var r = new RoundSte().apply(x);
            assertArrayEquals(new double[] {0, 2, -2}, r.data().toDoubleArray());
            F.sum(F.mul(r, x)).backward(); // d/dx (round(x)·x) under STE = x + round(x)
            assertArrayEquals(new double[] {0.4, 3.6, -4.5}, x.grad().toDoubleArray(), 1e-12);
            x.zeroGrad();
        }
    }

    @Test
    void gradCheckCatchesAWrongBackward() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {0.5, -1.5}, 2));
            GradCheck.Result r = GradCheck.check(in -> new WrongSquare().apply(in[0]), 1e-6, 1e-6, 1e-5, x);
            assertFalse(r.passed(), r.worst());
            assertThrows(AssertionError.class, () -> GradCheck.assertGradients(in -> new WrongSquare().apply(in[0]), x));
            assertTrue(GradCheck.assertGradients(in -> F.square(in[0]), x).passed());
        }
    }

    @Test
    void backwardWithWrongShapeIsReported() {
        Function bad = new Function() {
            @Override protected Tensor forward(Tensor... in) { return in[0].mul(2.0); }
            @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g.sum()}; }
            @Override public String name() { return "Bad"; }
        };
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, 2}, 2));
            Var y = F.sum(bad.apply(x));
            IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("Bad") && e.getMessage().contains("[2]"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> bad.apply(x), "a Function instance is one node");
        }
    }

    @Test
    void postAccumulateHookRunsOnceWithTheCompleteGradient() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, 2}, 2));
            List<double[]> seen = new ArrayList<>();
            Var.HookHandle h = x.registerPostAccumulateGradHook(v -> seen.add(v.grad().toDoubleArray()));
            // x feeds three ops: the hook must see the sum 1 + 2x + 3 = (6, 8)
            F.sum(F.add(F.add(x, F.square(x)), F.mul(x, 3.0))).backward();
            assertEquals(1, seen.size());
            assertArrayEquals(new double[] {6, 8}, seen.get(0));
            h.close();
            F.sum(x).backward();
            assertEquals(1, seen.size(), "removed hook must not run");
            x.zeroGrad();
        }
    }

    @Test
    void savedTensorsAreFreedDuringBackwardAndReleaseFreesTheRest() {
        Rng rng = new Rng(1);
        long act0 = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
        Var x = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 64, 32));
        Var w = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 32));
        long withInputs = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
        Var loss = F.mean(F.rmsNorm(x, w, 1e-6)); // RmsNorm owns its per-row rstd (64 floats)
        long afterForward = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
        loss.backward();
        long afterBackward = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
        assertEquals(afterForward - 256, afterBackward, "the 64-float rstd (256 bytes) is freed by backward");
        loss.release();
        loss.close();
        assertEquals(withInputs, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "release frees every intermediate");
        x.close();
        w.close();
        assertEquals(act0, Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
        assertEquals(0, Allocator.liveBytes(MemoryCategory.GRADIENTS));
    }

    @Test
    void checkpointedSegmentWithConstantInputStillTrainsItsParameters() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var w = Var.param(Tensor.of(new double[] {0.5, -1, 2, 0.25}, 2, 2));
            Var x = new Var(Tensor.of(new double[] {1, 2, 3, 4}, 2, 2)); // does not require grad
            Checkpoint.Segment seg = in -> F.tanh(F.linear(in[0], w));
            F.sum(F.square(seg.apply(x))).backward();
            double[] plain = w.grad().toDoubleArray();
            w.zeroGrad();
            Var y = Checkpoint.checkpoint(seg, x);
            assertTrue(y.requiresGrad(), "recorded although its only input is a constant");
            F.sum(F.square(y)).backward();
            assertArrayEquals(plain, w.grad().toDoubleArray());
            w.zeroGrad();
            try (GradMode.Scope _ = GradMode.noGrad()) {
                assertFalse(Checkpoint.checkpoint(seg, x).requiresGrad(), "not recorded under noGrad");
            }
        }
    }

    @Test
    void retainGradKeepsAnIntermediateGradient() {
        long start = Allocator.liveBytes();
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {1, 2, 3}, 3));
            Var h = F.mul(x, 2.0).retainGrad();
            Var y = F.mul(h, h); // d sum(h²)/dh = 2h = 4x
            F.sum(y).backward();
            assertArrayEquals(new double[] {4, 8, 12}, h.grad().toDoubleArray());
            assertEquals(MemoryCategory.ACTIVATIONS, h.grad().category());
            assertArrayEquals(new double[] {8, 16, 24}, x.grad().toDoubleArray());
            assertNull(y.grad(), "other intermediates keep none");
            x.zeroGrad();
        }
        assertEquals(start, Allocator.liveBytes(), "a retained gradient dies with the step scope");
    }

    @Test
    void droppedGraphLeaksNothing() {
        long start = Allocator.liveBytes();
        Var x = Var.param(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2));
        Var y = F.sum(F.softmax(F.matmul(x, F.exp(x)), 1));
        y.release(); // no backward
        y.close();
        x.close();
        assertEquals(start, Allocator.liveBytes());
    }

    @Test
    void stepScopeReturnsActivationsEachStep() {
        Rng rng = new Rng(3);
        Var w = Var.param(Tensor.normal(DType.F32, rng, 0, 0.1, 8, 8).label(MemoryCategory.WEIGHTS));
        long act = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
        for (int step = 0; step < 3; step++) {
            try (MemoryScope _ = MemoryScope.open()) {
                Var x = new Var(Tensor.normal(DType.F32, rng, 0, 1, 4, 8));
                F.mean(F.square(F.silu(F.linear(x, w)))).backward();
            }
            assertEquals(act, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "step " + step);
            assertEquals(256, Allocator.liveBytes(MemoryCategory.GRADIENTS), "the gradient of W survives the step scope");
        }
        w.close();
    }
}
