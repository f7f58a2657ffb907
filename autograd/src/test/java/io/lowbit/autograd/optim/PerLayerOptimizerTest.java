package io.lowbit.autograd.optim;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Activation;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.nn.Sequential;
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

/** Updates inside backward: same parameters as a normal step, one parameter's gradient alive at a time. */
@ExtendWith(NoLeaks.class)
class PerLayerOptimizerTest {

    private static Sequential mlp(long seed) {
        Rng rng = new Rng(seed);
        return new Sequential(new Linear(16, 48, true, rng), Activation.silu(), new Linear(48, 32, true, rng),
                Activation.tanh(), new Linear(32, 8, true, rng));
    }

    @Test
    void perLayerUpdatesEqualANormalStepAndHoldOneGradientAtATime() {
        Rng data = new Rng(99);
        try (Sequential a = mlp(5); Sequential b = mlp(5)) {
            List<Parameter> pa = a.parameters(), pb = b.parameters();
            long largest = 0, total = 0;
            for (Parameter p : pa) {
                long bytes = (p.numel() * 4 + 63) / 64 * 64;
                largest = Math.max(largest, bytes);
                total += bytes;
            }
            try (AdamW normal = new AdamW(pa, 1e-2, 0.9, 0.999, 1e-8, 0.01);
                 PerLayerOptimizer _ = PerLayerOptimizer.attach(pb, ps -> new AdamW(ps, 1e-2, 0.9, 0.999, 1e-8, 0.01))) {
                for (int step = 0; step < 3; step++) {
                    try (MemoryScope _ = MemoryScope.open()) {
                        Tensor x = Tensor.normal(DType.F32, data, 0, 1, 10, 16);
                        Tensor y = Tensor.normal(DType.F32, data, 0, 1, 10, 8);
                        Allocator.resetPeak();
                        F.mean(F.square(F.sub(a.forward(new Var(x)), new Var(y)))).backward();
                        long peakNormal = Allocator.peakBytes(MemoryCategory.GRADIENTS);
                        normal.step();
                        normal.zeroGrad();
                        Allocator.resetPeak();
                        F.mean(F.square(F.sub(b.forward(new Var(x)), new Var(y)))).backward(); // b is updated in here
                        long peakPerLayer = Allocator.peakBytes(MemoryCategory.GRADIENTS);
                        assertEquals(total, peakNormal, "normal backward holds every gradient");
                        assertEquals(largest, peakPerLayer, "per-layer backward holds one parameter's gradient at a time");
                        for (Parameter p : pb) assertNull(p.grad(), "gradients are freed by the hook");
                    }
                    for (int i = 0; i < pa.size(); i++)
                        assertArrayEquals(pa.get(i).data().toFloatArray(), pb.get(i).data().toFloatArray(), "parameter " + i + " after step " + step);
                }
                System.out.printf("gradient peak: all at once %d bytes, per-layer %d bytes%n", total, largest);
            }
        }
    }
}
