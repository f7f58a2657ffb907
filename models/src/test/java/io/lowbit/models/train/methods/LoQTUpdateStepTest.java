package io.lowbit.models.train.methods;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TrainingMethod.StepRunner;
import io.lowbit.quant.loqt.LoQTLinear;
import io.lowbit.quant.loqt.UpdateSchedule;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.MetricsLog;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.tensor.testing.NoLeaks;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;

/**
 * LoQT's update step layer by layer (spec "Update steps", step 2: "one layer's worth at a time"): finishing each
 * layer inside the last backward pass, from its full-gradient hook, gives the same bits as finishing every layer
 * after the pass, and holds only the largest single layer's G at a time.
 */
@ExtendWith(NoLeaks.class)
class LoQTUpdateStepTest {
    private static MethodOptions options() {
        return new MethodOptions(4, 0.5, 3, 1.2, UpdateSchedule.Kind.STATIC, 3, true); // updates at 0 and 3
    }

    /** One model trained through update steps 0 and 3 (and normal steps 1, 2) with {@code micro} micro-batches per step. */
    private static final class Run implements AutoCloseable {
        final TinyLm model = new TinyLm(MethodsTrainingTest.VOCAB, 16, 24, new Rng(1));
        final LoQTTraining method;
        final Tensor[][] batches;
        final StepRunner runner;
        long peakUpdateGradientBytes;

        Run(boolean quantize, int micro, boolean declareMicroBatches) {
            method = new LoQTTraining(options(), quantize);
            method.prepare(model, new Rng(2));
            batches = new Tensor[micro][];
            for (int m = 0; m < micro; m++) batches[m] = MethodsTrainingTest.batch(m);
            StepRunner plain = () -> {
                double sum = 0;
                for (Tensor[] b : batches) {
                    try (MemoryScope _ = MemoryScope.open()) {
                        Var loss = F.mul(F.crossEntropy(model.forward(b[0]), b[1]), 1.0 / batches.length);
                        loss.backwardAndRelease();
                        sum += loss.item();
                    }
                }
                return sum;
            };
            runner = declareMicroBatches ? StepRunner.of(micro, plain) : plain; // undeclared ⇒ all layers after the pass
        }

        void train(int steps) {
            var trainable = method.trainable(model);
            try (Optimizer opt = new AdamW(trainable, 0.02, 0.9, 0.999, 1e-6, 0)) {
                for (int step = 0; step < steps; step++) {
                    long before = Allocator.liveBytes(MemoryCategory.GRADIENTS);
                    Allocator.resetPeak();
                    if (method.beforeStep(step, runner)) {
                        peakUpdateGradientBytes = Math.max(peakUpdateGradientBytes, Allocator.peakBytes(MemoryCategory.GRADIENTS) - before);
                        for (Parameter p : trainable) assertNull(p.grad(), "an update step leaves no gradient");
                    } else {
                        runner.forwardBackward();
                        opt.step();
                    }
                    opt.zeroGrad();
                }
            }
        }

        @Override
        public void close() {
            for (Tensor[] b : batches) for (Tensor t : b) t.close();
            method.close();
            model.close();
        }
    }

    private static long largestLayerGradientBytes(LoQTTraining m) {
        long max = 0;
        for (LoQTLinear l : m.layers().values()) max = Math.max(max, (long) l.outFeatures * l.inFeatures * Float.BYTES);
        return max;
    }

    private static long allLayersGradientBytes(LoQTTraining m) {
        long sum = 0;
        for (LoQTLinear l : m.layers().values()) sum += (long) l.outFeatures * l.inFeatures * Float.BYTES;
        return sum;
    }

    private static void assertSameState(Run a, Run b) {
        Map<String, Tensor> sa = a.model.stateDict(), sb = b.model.stateDict();
        assertEquals(sa.keySet(), sb.keySet());
        for (String k : sa.keySet()) {
            Tensor x = sa.get(k), y = sb.get(k);
            assertEquals(x.dtype(), y.dtype(), k);
            for (long i = 0; i < x.numel(); i++)
                if (Double.doubleToRawLongBits(x.getDouble(i)) != Double.doubleToRawLongBits(y.getDouble(i)))
                    fail(k + " element " + i + ": " + x.getDouble(i) + " (after the pass) vs " + y.getDouble(i) + " (in backward)");
        }
        for (int i = 0; i < a.method.lastReports().size(); i++)
            assertArrayEquals(a.method.lastReports().get(i).compensationErrors(), b.method.lastReports().get(i).compensationErrors(), 0.0);
    }

    @Test
    void finishingInBackwardEqualsFinishingAfterThePassBitForBit() {
        for (boolean quantize : new boolean[] {true, false})
            for (int micro : new int[] {1, 2})
                try (Run after = new Run(quantize, micro, false); Run inBackward = new Run(quantize, micro, true)) {
                    after.train(5);
                    inBackward.train(5);
                    assertEquals(2, inBackward.method.updates());
                    try (Tensor p = inBackward.method.layers().get("b0.up_proj").projection()) {
                        assertTrue(p.absMax() > 0, "P was rebuilt from G");
                    }
                    assertSameState(after, inBackward);
                }
    }

    @Test
    void oneMicroBatchHoldsOnlyTheLargestLayersGradient() {
        try (Run after = new Run(true, 1, false); Run inBackward = new Run(true, 1, true)) {
            after.train(4);
            inBackward.train(4);
            long largest = largestLayerGradientBytes(inBackward.method), all = allLayersGradientBytes(inBackward.method);
            assertTrue(largest < all / 5, "the tiny model's layers: " + largest + " vs " + all);
            // finished in backward: G of one layer at a time (up/gate [24, 16] here)
            assertEquals(largest, inBackward.peakUpdateGradientBytes, "peak gradient bytes during an update step");
            // finished after the pass: every layer's G at once
            assertEquals(all, after.peakUpdateGradientBytes);
        }
        // with two micro-batches every G must accumulate over the first pass, so all coexist (documented)
        try (Run inBackward = new Run(true, 2, true)) {
            inBackward.train(1);
            assertEquals(allLayersGradientBytes(inBackward.method), inBackward.peakUpdateGradientBytes);
        }
    }

    @Test
    void aRunnerThatRunsMorePassesThanItDeclaresIsCaught() {
        try (Run r = new Run(true, 2, false)) {
            StepRunner lying = StepRunner.of(1, r.runner); // declares one pass, runs two
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.method.beforeStep(0, lying));
            assertTrue(e.getMessage().contains("more backward passes"), e.getMessage());
            for (Parameter p : r.method.trainable(r.model)) p.zeroGrad();
            for (LoQTLinear l : r.method.layers().values()) assertFalse(l.inFullGradientMode());
        }
    }

    private static final LlamaConfig TINY = LlamaConfig.of(16, 40, 2, 1, 2, 24, 16, 1e-5, 10000, true);

    private static TokenDataset data() {
        int[] pattern = {3, 7, 1, 9, 4, 4, 12, 20, 5};
        Rng r = new Rng(99);
        int[] t = new int[3000];
        for (int i = 0; i < t.length; i++) t[i] = i % 7 == 6 ? r.nextInt(24) : pattern[i % 9];
        return new TokenDataset(t, 0.1, 8, 5);
    }

    private static List<Double> losses(MetricsLog m) {
        List<Double> out = new ArrayList<>();
        for (Map<String, Double> row : m.rows()) if (row.containsKey("loss")) out.add(row.get("loss"));
        return out;
    }

    @Test
    void resumedLoqtRunReproducesTheUninterruptedLossCurve(@TempDir Path dir) throws Exception {
        // update steps 0, 3, 6 (static τ = 3); interrupted after step 4, so the resumed run starts between two
        // update steps and performs one itself; two micro-batches per step (the hooks count passes)
        MethodOptions o = new MethodOptions(4, 0.5, 3, 1.2, UpdateSchedule.Kind.STATIC, 2, true);
        TrainConfig c = TrainConfig.defaults(8, 2, 2, 1e-2).withEval(0, 8, 0, 1000);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        List<Double> whole;
        Map<String, float[]> wholeState = new java.util.TreeMap<>();
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 1); LoQTTraining method = new LoQTTraining(o, true);
             Trainer t = new Trainer(m, method, data(), c.withOutDir(dir.resolve("a"), false), quiet)) {
            whole = losses(t.run().metrics());
            assertEquals(3, method.updates());
            m.stateDict().forEach((k, v) -> wholeState.put(k, v.toFloatArray()));
        }
        Path b = dir.resolve("b");
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 1); LoQTTraining method = new LoQTTraining(o, true);
             Trainer t = new Trainer(m, method, data(), c.withOutDir(b, true), quiet)) {
            assertEquals(5, t.run(5).stepsDone());
        }
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 777); LoQTTraining method = new LoQTTraining(o, true);
             Trainer t = new Trainer(m, method, data(), c.withOutDir(b, true), quiet)) {
            assertEquals(5, t.step());
            assertEquals(whole, losses(t.run().metrics()), "losses of the resumed run (first 5 from its checkpoint's metrics)");
            assertEquals(1, method.updates(), "step 6 is an update step of the resumed run");
            for (var e : m.stateDict().entrySet())
                assertArrayEquals(wholeState.get(e.getKey()), e.getValue().toFloatArray(), 0f, e.getKey());
        }
    }
}
