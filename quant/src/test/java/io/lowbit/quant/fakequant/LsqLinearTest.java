package io.lowbit.quant.fakequant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The full-QAT layer: LSQ on the weight of a linear, its gradients and its merge to integers. */
@ExtendWith(NoLeaks.class)
class LsqLinearTest {
    /**
     * 2-bit signed grid (Q_N = −2, Q_P = 1), one row w = [0.3, −0.9, 2.0], s = 0.5, x = [1, 2, 3], loss = y:
     * w/s = 0.6, −1.8, 4 (clipped) → integers 1, −2, 1 → ŵ = [0.5, −1, 0.5], y = 0.5 − 2 + 1.5 = 0;
     * ∂L/∂W = x inside the range, 0 where clipped = [1, 2, 0];
     * ∂L/∂s = g·Σ x·∂ŵ/∂s = g·(1·(1 − 0.6) + 2·(−2 + 1.8) + 3·Q_P) = g·3.0, g = 1/√(3·1).
     */
    @Test
    void forwardGradientsAndMergeMatchAHandComputedCase() {
        try (Tensor w = Tensor.of(new double[] {0.3, -0.9, 2.0}, 1, 3);
             LsqLinear l = new LsqLinear(w, null, AffineSpec.perChannel(2, true), new float[] {0.5f});
             MemoryScope _ = MemoryScope.open()) {
            Var y = l.forward(new Var(Tensor.of(new double[] {1, 2, 3}, 1, 3)));
            assertEquals(0.0, y.data().getDouble(0), 1e-15);
            F.sum(y).backward();
            assertArrayEquals(new double[] {1, 2, 0}, l.weight().grad().toDoubleArray(), 1e-15);
            assertEquals(3.0 / Math.sqrt(3), l.scale().grad().getDouble(0), 1e-12);
            try (AffineQuantizedTensor q = l.merge(); Tensor deq = q.dequantize()) {
                assertArrayEquals(new int[] {1, -2, 1}, new int[] {q.code(0, 0) - q.zero(0, 0), q.code(0, 1) - q.zero(0, 0), q.code(0, 2) - q.zero(0, 0)});
                assertArrayEquals(new double[] {0.5, -1, 0.5}, deq.toDoubleArray(), 0);
            }
            l.zeroGrad();
        }
    }

    @Test
    void mergedIntegersEqualTheFakeQuantWeightPerGroup() {
        Rng rng = new Rng(5);
        AffineSpec spec = AffineSpec.perGroup(3, true, 8);
        try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, 6, 24);
             LsqLinear l = new LsqLinear(w, null, spec, io.lowbit.quant.lrqat.LpRangeSearch.scales(w, 3, 8, 4));
             MemoryScope _ = MemoryScope.open()) {
            assertArrayEquals(new int[] {6, 3}, l.scale().shape());
            Var fq = FakeQuant.lsq(l.weight(), l.scale(), spec);
            try (AffineQuantizedTensor q = l.merge(); Tensor deq = q.dequantize()) {
                assertArrayEquals(fq.data().toFloatArray(), deq.toFloatArray(), 1e-7f);
                assertEquals(3, q.bits());
            }
        }
    }

    @Test
    void badSpecsAreRejected() {
        try (Tensor w = Tensor.zeros(DType.F32, 2, 4)) {
            assertThrows(IllegalArgumentException.class, () -> new LsqLinear(w, null, AffineSpec.perChannel(4, false), new float[] {1, 1}));
            assertThrows(IllegalArgumentException.class, () -> new LsqLinear(w, null, AffineSpec.perChannel(4, true), new float[] {1}));
        }
    }
}
