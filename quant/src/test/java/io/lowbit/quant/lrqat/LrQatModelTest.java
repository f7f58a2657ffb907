package io.lowbit.quant.lrqat;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Activation;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.nn.Sequential;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.quant.QuantLinear;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Model-level LR-QAT: swap, freeze, train a step, merge to integers that run in the inference QuantLinear. */
@ExtendWith(NoLeaks.class)
class LrQatModelTest {
    @Test
    void swapTrainMergeRunsAsIntegers() {
        Rng rng = new Rng(81);
        RMSNorm norm = new RMSNorm(16, 1e-6);
        try (Sequential model = new Sequential(norm, new Linear(16, 32, true, rng), Activation.silu(), new Linear(32, 8, false, rng));
             Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 4, 16)) {
            Map<String, LrQatLinear> layers = LrQat.apply(model, p -> !p.equals("3"), LrQatConfig.defaults().withRank(4), rng);
            assertEquals(java.util.List.of("1"), java.util.List.copyOf(layers.keySet()), "the head (3) stays full precision");
            for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet())
                assertEquals(e.getKey().startsWith("1.") && !e.getKey().equals("1.bias"), e.getValue().requiresGrad(), e.getKey());
            try (AdamW opt = LrQat.optimizer(layers.values(), 1e-2, 1e-4); MemoryScope _ = MemoryScope.open()) {
                F.sum(F.square(model.forward(new Var(x)))).backward();
                assertNull(norm.weight().grad(), "norm frozen");
                opt.step();
                opt.zeroGrad();
            }
            LrQatLinear l = layers.get("1");
            assertTrue(l.loraA().data().absMax() > 0, "A trained away from zero");
            Map<String, AffineQuantizedTensor> merged = LrQat.merge(layers);
            try (QuantLinear q = new QuantLinear(merged.get("1"), l.bias().data().copy());
                 Tensor w = l.fakeQuantWeight(); MemoryScope _ = MemoryScope.open()) {
                Tensor yq = q.forward(x);
                Var ref = F.linear(new Var(x), new Var(w), l.bias());
                assertArrayEquals(ref.data().toFloatArray(), yq.toFloatArray(), 1e-5f, "integer inference equals the fake-quant layer");
                assertEquals(4, q.weight().bits());
            }
        }
    }
}
