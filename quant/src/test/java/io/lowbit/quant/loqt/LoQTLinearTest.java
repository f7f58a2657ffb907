package io.lowbit.quant.loqt;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.loqt.Compensation.ProjectionSide;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** LoQTLinear: forward against the dense W_eff, backward against finite differences, the update step's pieces. */
@ExtendWith(NoLeaks.class)
class LoQTLinearTest {
    /** One update step driven by loss = Σ y² over {@code x}, then a random trainable factor (so B·A ≠ 0). */
    private static LoQTLinear.UpdateReport updateThenRandomize(LoQTLinear l, Tensor x, Rng rng, int c) {
        l.beginUpdate();
        try (MemoryScope s = MemoryScope.open()) {
            F.sum(F.square(l.forward(Var.of(x)))).backward();
        }
        LoQTLinear.UpdateReport rep = l.finishUpdate(c, 7);
        try (MemoryScope s = MemoryScope.open()) {
            l.factor().data().copyFrom(Tensor.normal(l.factor().dtype(), rng, 0, 0.3, l.factor().shape()));
        }
        return rep;
    }

    private static double maxDiff(Tensor a, Tensor b) {
        double[] x = a.toDoubleArray(), y = b.toDoubleArray();
        assertEquals(x.length, y.length);
        double m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }

    @Test
    void mergeAndRequantizeByHand() {
        // W = [[1, 0], [0, -1]] is exact in NF4. One update with loss Σy² over x = [1, 0] gives G = [[2, 0], [0, 0]],
        // so P = ±[1, 0] (exact in NF4); then B = ±[2, 0]ᵀ, s = 0.5 ⇒ W_fp = W + s·B·P = [[2, 0], [0, -1]].
        // Requantizing: absmax 2, scaled values [1, 0, 0, -0.5]; -0.5 rounds to the NF4 level -0.5250730514526367.
        try (Tensor w = Tensor.of(new float[] {1, 0, 0, -1}, 2, 2); Tensor x = Tensor.of(new float[] {1, 0}, 1, 2);
             LoQTLinear l = new LoQTLinear(w, null, 1, 0.5, true, true)) {
            try (Tensor q = l.baseWeight()) {
                assertArrayEquals(new float[] {1, 0, 0, -1}, q.toFloatArray(), 0f, "deq(Q) = W");
            }
            l.beginUpdate();
            try (MemoryScope s = MemoryScope.open()) {
                F.sum(F.square(l.forward(Var.of(x)))).backward();
                assertArrayEquals(new float[] {2, 0, 0, 0}, l.fullGradient().toFloatArray(), 0f, "G = 2y·x");
            }
            l.finishUpdate(0, 1);
            float sign;
            try (Tensor p = l.projection()) {
                float[] pv = p.toFloatArray();
                assertEquals(1f, Math.abs(pv[0]), 0f);
                assertEquals(0f, pv[1], 0f);
                sign = pv[0];
            }
            try (Tensor b = Tensor.of(new float[] {2 * sign, 0}, 2, 1)) {
                l.factor().data().copyFrom(b);
            }
            try (Tensor wfp = l.effectiveWeight()) {
                assertArrayEquals(new float[] {2, 0, 0, -1}, wfp.toFloatArray(), 0f, "merge: W_fp = deq(Q) + s·B·A");
            }
            l.beginUpdate();
            try (Tensor q2 = l.temporaryWeight().dequantize()) {
                assertArrayEquals(new float[] {2, 0, 0, 2 * -0.5250730514526367f}, q2.toFloatArray(), 1e-6f, "Q' = NF4(W_fp)");
            }
            l.releaseUpdateState();
        }
    }

    @Test
    void sidesFollowTheSmallerDimension() {
        try (Tensor w1 = Tensor.zeros(DType.F32, 12, 8); Tensor w2 = Tensor.zeros(DType.F32, 8, 12);
             LoQTLinear a = new LoQTLinear(w1, null, 4, 0.5, true, true); LoQTLinear b = new LoQTLinear(w2, null, 40, 0.5, true, true)) {
            assertEquals(ProjectionSide.INPUT, a.side());
            assertArrayEquals(new int[] {12, 4}, a.factor().shape(), "in ≤ out: B (out×r) trains");
            assertEquals(ProjectionSide.OUTPUT, b.side());
            assertEquals(8, b.rank, "r = min(r, in, out)");
            assertArrayEquals(new int[] {8, 12}, b.factor().shape(), "in > out: A (r×in) trains");
            assertEquals(MemoryCategory.ADAPTERS, a.factor().data().category());
            assertEquals(MemoryCategory.QUANTIZED, a.quantizedWeight().components().get("qweight").category());
            try (Tensor p = a.projection()) {
                assertEquals(0, p.absMax(), 0, "before step 0 P (and the factor) are zero");
            }
            assertEquals(MemoryCategory.ADAPTERS, a.quantizedProjection().components().get("qweight").category());
            assertTrue(a.stateDict().containsKey("q_qweight") && a.stateDict().containsKey("p_absmax_q"), a.stateDict().keySet().toString());
        }
    }

    @Test
    void forwardMatchesTheDenseEffectiveWeightOnOddShapes() {
        Rng rng = new Rng(1);
        for (int[] sh : new int[][] {{33, 7}, {7, 33}, {65, 63}}) {
            try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, sh[0], sh[1]); Tensor b = Tensor.normal(DType.F32, rng, 0, 0.1, sh[0]);
                 Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 3, 5, sh[1]);
                 LoQTLinear l = new LoQTLinear(w, b, 4, 0.4, true, true)) {
                try (MemoryScope s = MemoryScope.open()) { // before any update: y = x·deq(NF4(W))ᵀ + b
                    Tensor ref;
                    try (QuantizedTensor q = new Nf4Quantizer().quantize(w); Tensor dq = q.dequantize()) {
                        ref = x.matmul(dq.t()).add(b);
                    }
                    assertTrue(maxDiff(l.forward(Var.of(x)).data(), ref) < 1e-5);
                }
                updateThenRandomize(l, x, rng, 2);
                assertNotNull(l.quantizedProjection(), "P is NF4 by default");
                try (MemoryScope s = MemoryScope.open(); Tensor weff = l.effectiveWeight()) {
                    Tensor ref = x.matmul(weff.t()).add(b);
                    Tensor y = l.forward(Var.of(x)).data();
                    assertArrayEquals(new int[] {3, 5, sh[0]}, y.shape());
                    assertTrue(maxDiff(y, ref) < 1e-4, "fused forward = x·W_effᵀ + b: " + maxDiff(y, ref));
                }
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesInF64() {
        Rng rng = new Rng(2);
        for (int[] sh : new int[][] {{7, 5}, {5, 7}}) { // both orientations
            try (Tensor w = Tensor.normal(DType.F64, rng, 0, 0.5, sh[0], sh[1]); Tensor b = Tensor.normal(DType.F64, rng, 0, 0.5, sh[0]);
                 LoQTLinear l = new LoQTLinear(w, b, 3, 0.7, false, false)) {
                Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 3, sh[1]));
                updateThenRandomize(l, x.data(), rng, 5);
                assertEquals(DType.F64, l.factor().dtype());
                GradCheck.assertGradients(in -> l.forward(in[0]), x, l.factor(), l.bias());
                x.close();
            }
        }
    }

    @Test
    void beforeTheFirstUpdateTheFactorGradientIsZero() {
        Rng rng = new Rng(4);
        try (Tensor w = Tensor.normal(DType.F64, rng, 0, 0.5, 6, 4); LoQTLinear l = new LoQTLinear(w, null, 2, 1.0, false, false)) {
            Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 3, 4));
            GradCheck.assertGradients(in -> l.forward(in[0]), x, l.factor());
            x.close();
        }
    }

    @Test
    void fullGradientModeAccumulatesTheDenseWeightGradient() {
        Rng rng = new Rng(5);
        for (int[] sh : new int[][] {{31, 17}, {17, 31}}) {
            try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, sh[0], sh[1]); Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 4, 3, sh[1]);
                 Tensor x2 = Tensor.normal(DType.F32, rng, 0, 1, 2, sh[1]);
                 LoQTLinear l = new LoQTLinear(w, null, 4, 0.5, true, true)) {
                updateThenRandomize(l, x, rng, 1);
                // Step 1: Q' = NF4(W_fp)
                Tensor wfp = l.effectiveWeight();
                l.beginUpdate();
                try (QuantizedTensor ref = new Nf4Quantizer().quantize(wfp); Tensor a = ref.dequantize(); Tensor b = l.temporaryWeight().dequantize()) {
                    assertEquals(0, maxDiff(a, b), "Q' = NF4(deq(Q) + s·B·A)");
                }
                // Step 2 over two micro-batches: G = Σ dL/dW of the dense layer with weight deq(Q')
                try (Tensor wq = l.temporaryWeight().dequantize(); Linear dense = new Linear(wq.copy(), null)) {
                    Var xa = Var.param(x.copy()), xb = Var.param(x2.copy());
                    Var da = Var.param(x.copy()), db = Var.param(x2.copy());
                    try (MemoryScope s = MemoryScope.open()) {
                        F.sum(F.square(l.forward(xa))).backward();
                        F.sum(F.square(l.forward(xb))).backward();
                        F.sum(F.square(dense.forward(da))).backward();
                        F.sum(F.square(dense.forward(db))).backward();
                    }
                    assertNull(l.factor().grad(), "no gradient for the trainable factor in full-gradient mode");
                    double scaleG = dense.weight().grad().absMax();
                    assertTrue(maxDiff(l.fullGradient(), dense.weight().grad()) < 1e-4 * scaleG, "G = dense dL/dW");
                    assertTrue(maxDiff(xa.grad(), da.grad()) < 1e-4 * da.grad().absMax(), "dL/dx through Q'");
                    assertEquals(MemoryCategory.GRADIENTS, l.fullGradient().category());
                    for (Var v : new Var[] {xa, xb, da, db}) v.close();
                }
                Parameter before = l.factor();
                LoQTLinear.UpdateReport rep = l.finishUpdate(3, 9);
                assertSame(before, l.factor(), "the trainable Parameter object survives the update");
                assertNull(l.fullGradient(), "G is freed after the update");
                assertNull(l.temporaryWeight(), "Q' is freed after the update");
                assertFalse(l.inFullGradientMode());
                assertEquals(3, rep.compensationErrors().length);
                // the layer now represents W_fp up to the compensated error
                try (Tensor weff = l.effectiveWeight()) {
                    double e = Compensation.frobeniusDiff(weff, wfp);
                    assertEquals(rep.compensationErrors()[rep.bestIteration()], e, 1e-4 * Math.max(1, e));
                }
                wfp.close();
            }
        }
    }

    @Test
    void quantizedBackwardMatchesAutogradOfTheDenseComposition() {
        // NF4 path (F32): dL/dx and dL/d(factor) equal autograd through y = x·deq(Q)ᵀ + s·lowRank built from F ops.
        Rng rng = new Rng(12);
        for (int[] sh : new int[][] {{33, 17}, {17, 33}}) {
            try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, sh[0], sh[1]); Tensor x0 = Tensor.normal(DType.F32, rng, 0, 1, 2, 5, sh[1]);
                 LoQTLinear l = new LoQTLinear(w, null, 3, 0.6, true, true)) {
                updateThenRandomize(l, x0, rng, 2);
                try (MemoryScope s = MemoryScope.open(); Tensor dq = l.baseWeight(); Tensor p = l.projection()) {
                    Var x = Var.param(x0.copy()), xr = Var.param(x0.copy());
                    Var fr = Var.param(l.factor().data().copy());
                    Tensor r = Tensor.normal(DType.F32, rng, 0, 1, 2, 5, sh[0]);
                    l.forward(x).backward(r);
                    Var low = l.side() == ProjectionSide.INPUT
                            ? F.linear(F.linear(xr, Var.of(p)), fr) // (x·P̃ᵀ)·Bᵀ
                            : F.linear(F.linear(xr, fr), Var.of(p)); // (x·Aᵀ)·P̃ᵀ
                    F.add(F.linear(xr, Var.of(dq)), F.mul(low, l.scale())).backward(r);
                    assertTrue(maxDiff(x.grad(), xr.grad()) < 1e-4 * xr.grad().absMax(), "dL/dx");
                    assertTrue(maxDiff(l.factor().grad(), fr.grad()) < 1e-4 * fr.grad().absMax(), "dL/d(factor)");
                    l.factor().zeroGrad();
                    for (Var v : new Var[] {x, xr, fr}) v.close();
                }
            }
        }
    }

    @Test
    void loqtNqUpdateIsLossless() {
        // LoQT-nq merges s·B·A into W exactly and restarts the factor at 0: W_eff is unchanged by an update step.
        Rng rng = new Rng(13);
        try (Tensor w = Tensor.normal(DType.F64, rng, 0, 0.5, 8, 11); Tensor x = Tensor.normal(DType.F64, rng, 0, 1, 6, 11);
             LoQTLinear l = new LoQTLinear(w, null, 3, 0.5, false, false)) {
            updateThenRandomize(l, x, rng, 0); // non-zero B·A
            Tensor before = l.effectiveWeight();
            l.beginUpdate();
            try (MemoryScope s = MemoryScope.open()) {
                F.sum(F.square(l.forward(Var.of(x)))).backward();
            }
            l.finishUpdate(5, 3);
            try (Tensor after = l.effectiveWeight()) {
                assertTrue(maxDiff(before, after) < 1e-12, "W_eff unchanged: " + maxDiff(before, after));
            }
            before.close();
        }
    }

    @Test
    void projectionComesFromTheTopSingularVectorsOfG() {
        // nq, F64: G = Rᵀx for loss Σ y·R; P rows must span the top right singular vectors of G (in ≤ out).
        Rng rng = new Rng(8);
        try (Tensor w = Tensor.normal(DType.F64, rng, 0, 0.5, 9, 6); LoQTLinear l = new LoQTLinear(w, null, 2, 1, false, false);
             Tensor x = Tensor.normal(DType.F64, rng, 0, 1, 20, 6)) {
            l.beginUpdate();
            double[] g;
            try (MemoryScope s = MemoryScope.open()) {
                F.sum(F.square(l.forward(Var.of(x)))).backward();
                g = l.fullGradient().toDoubleArray();
            }
            l.finishUpdate(0, 1);
            var svd = io.lowbit.tensor.linalg.Svd.jacobi(g, 9, 6);
            try (Tensor p = l.projection()) {
                double[] pr = p.toDoubleArray();
                for (int i = 0; i < 2; i++) { // |<P_i, v_i>| = 1
                    double d = 0;
                    for (int j = 0; j < 6; j++) d += pr[i * 6 + j] * svd.vt()[i * 6 + j];
                    assertEquals(1, Math.abs(d), 1e-8);
                }
            }
            assertEquals(0, l.factor().data().absMax(), 0, "LoQT-nq: W absorbs the merge, factor restarts at 0");
        }
    }

    @Test
    void checkpointStateRoundTrips() {
        Rng rng = new Rng(9);
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, 10, 14); Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 3, 14);
             LoQTLinear a = new LoQTLinear(w, null, 3, 0.5, true, true); LoQTLinear b = new LoQTLinear(w, null, 3, 0.5, true, true)) {
            updateThenRandomize(a, x, rng, 2);
            b.loadStateDict(a.stateDict());
            try (Tensor ea = a.effectiveWeight(); Tensor eb = b.effectiveWeight()) {
                assertEquals(0, maxDiff(ea, eb));
            }
        }
    }

    @Test
    void misuseIsAClearError() {
        try (Tensor w = Tensor.zeros(DType.F32, 4, 3); LoQTLinear l = new LoQTLinear(w, null, 2, 0.5, true, true)) {
            assertThrows(IllegalStateException.class, () -> l.finishUpdate(1, 0));
            l.beginUpdate();
            var e = assertThrows(IllegalStateException.class, () -> l.finishUpdate(1, 0));
            assertTrue(e.getMessage().contains("no full gradient"), e.getMessage());
            try (Tensor x = Tensor.zeros(DType.F32, 2, 5)) {
                var e2 = assertThrows(IllegalArgumentException.class, () -> l.forward(Var.of(x)));
                assertTrue(e2.getMessage().contains("[2, 5]"), e2.getMessage());
            }
        }
    }
}
