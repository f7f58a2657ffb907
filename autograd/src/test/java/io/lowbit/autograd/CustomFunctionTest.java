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
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The custom-function API on the patterns the quantization methods need: LSQ fake quantization with a
 * learned step (Esser et al. 2020), a low-rank weight recomputed in backward instead of stored
 * (LR-QAT style), and dropout replayed inside a checkpointed segment.
 */
@ExtendWith(NoLeaks.class)
class CustomFunctionTest {

    /**
     * LSQ: x̂ = clamp(round(x/s), qn, qp)·s. Gradients (LSQ eq. 3 and 5): ∂x̂/∂x = 1 inside the range and 0
     * outside (straight-through); ∂x̂/∂s = round(x/s) − x/s inside, qn or qp outside, times the gradient
     * scale gs = 1/√(numel·qp). s is a 0-d tensor, so its gradient is a sum over all elements.
     */
    static final class LsqFakeQuant extends Function {
        private final int qn, qp;

        LsqFakeQuant(int qn, int qp) {
            this.qn = qn;
            this.qp = qp;
        }

        @Override
        protected Tensor forward(Tensor... in) {
            Tensor x = in[0];
            double s = in[1].item();
            saveForBackward(x, in[1]);
            Tensor y = Tensor.empty(x.dtype(), x.shape());
            for (long i = 0; i < x.numel(); i++) y.setDouble(i, Math.max(qn, Math.min(qp, Math.rint(x.getDouble(i) / s))) * s);
            return y;
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor x = saved(0);
            double s = saved(1).item(), gs = 1 / Math.sqrt(x.numel() * qp), ds = 0;
            Tensor dx = Tensor.empty(x.dtype(), x.shape());
            for (long i = 0; i < x.numel(); i++) {
                double v = x.getDouble(i) / s, gi = g.getDouble(i);
                boolean inside = v >= qn && v <= qp;
                dx.setDouble(i, inside ? gi : 0);
                ds += gi * (inside ? Math.rint(v) - v : v < qn ? qn : qp);
            }
            return new Tensor[] {dx, Tensor.scalar(x.dtype(), ds * gs)};
        }
    }

    @Test
    void lsqGradientsMatchThePaper() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new double[] {0.26, -0.9, 3.0, 0.74}, 4));
            Var s = Var.param(Tensor.scalar(DType.F64, 0.5));
            Var y = new LsqFakeQuant(-2, 1).apply(x, s); // x/s = 0.52, −1.8, 6, 1.48
            assertArrayEquals(new double[] {0.5, -1.0, 0.5, 0.5}, y.data().toDoubleArray(), 1e-15);
            F.sum(y).backward();
            assertArrayEquals(new double[] {1, 1, 0, 0}, x.grad().toDoubleArray()); // 1.48 > qp = 1: clipped
            double expectDs = ((1 - 0.52) + (-2 + 1.8) + 1 + 1) / Math.sqrt(4 * 1);
            assertEquals(expectDs, s.grad().item(), 1e-12);
            x.zeroGrad();
            s.zeroGrad();
        }
    }

    /**
     * y = x·(W + A·B)ᵀ where the merged weight is rebuilt in backward instead of being saved: forward
     * saves only its three inputs.
     */
    static final class RecomputedLowRankLinear extends Function {
        @Override
        protected Tensor forward(Tensor... in) {
            saveForBackward(in[0], in[1], in[2], in[3]); // x, W, A, B (borrowed); never the dense W + AB
            try (Tensor w = merged(in[1], in[2], in[3])) {
                return in[0].matmul(w.t());
            }
        }

        private static Tensor merged(Tensor w, Tensor a, Tensor b) {
            try (Tensor ab = a.matmul(b)) {
                return w.add(ab);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor[] out = new Tensor[4];
            try (MemoryScope s = MemoryScope.open()) {
                Tensor x = saved(0), a = saved(2), b = saved(3);
                Tensor w = merged(saved(1), a, b);                // re-materialized, dies with the scope
                Tensor gw = g.t().matmul(x);                      // ∂/∂W' = Gᵀ·x
                if (needsInputGrad(0)) out[0] = s.keep(g.matmul(w)); // ∂/∂x = G·W'
                out[2] = s.keep(gw.matmul(b.t()));               // ∂/∂A = ∂/∂W'·Bᵀ
                out[3] = s.keep(a.t().matmul(gw));               // ∂/∂B = Aᵀ·∂/∂W'
                out[1] = s.keep(gw);                             // ∂/∂W = ∂/∂W'
            }
            return out;
        }
    }

    @Test
    void recomputedWeightGradientsPassGradCheck() {
        Rng rng = new Rng(12);
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 3, 5));
            Var w = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 4, 5));
            Var a = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 4, 2));
            Var b = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 2, 5));
            GradCheck.assertGradients(in -> new RecomputedLowRankLinear().apply(in[0], in[1], in[2], in[3]), x, w, a, b);
        }
    }

    @Test
    void recomputationKeepsNoDenseWeightBetweenForwardAndBackward() {
        Rng rng = new Rng(13);
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = new Var(Tensor.normal(DType.F32, rng, 0, 1, 2, 64));
            Var w = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 64, 64));
            Var a = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 64, 4));
            Var b = Var.param(Tensor.normal(DType.F32, rng, 0, 1, 4, 64));
            long before = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
            Var y = new RecomputedLowRankLinear().apply(x, w, a, b);
            assertEquals(before + 2 * 64 * 4, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "only the [2, 64] output persists");
            F.sum(y).backward();
            for (Var v : List.of(w, a, b)) v.zeroGrad();
        }
    }

    @Test
    void checkpointReplaysDropoutMasks() {
        Rng weights = new Rng(14);
        try (MemoryScope _ = MemoryScope.open()) {
            Var w = Var.param(Tensor.normal(DType.F32, weights, 0, 0.3, 16, 16));
            Tensor xData = Tensor.normal(DType.F32, weights, 0, 1, 4, 16);
            float[][] grads = new float[2][];
            float[][] wGrads = new float[2][];
            for (int mode = 0; mode < 2; mode++) {
                Rng drop = new Rng(77);
                Var x = Var.param(xData.copy());
                Checkpoint.Segment seg = in -> F.tanh(F.dropout(F.linear(in[0], w), 0.5, drop, true));
                Var out = mode == 0 ? seg.apply(x) : Checkpoint.checkpoint(seg, List.of(drop), x);
                F.sum(F.square(out)).backward();
                grads[mode] = x.grad().toFloatArray();
                wGrads[mode] = w.grad().toFloatArray();
                x.zeroGrad();
                w.zeroGrad();
            }
            assertArrayEquals(grads[0], grads[1], "input gradient with a replayed mask");
            assertArrayEquals(wGrads[0], wGrads[1], "weight gradient with a replayed mask");
        }
    }
}
