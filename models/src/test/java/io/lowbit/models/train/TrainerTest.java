package io.lowbit.models.train;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(NoLeaks.class)
class TrainerTest {
    @TempDir
    Path dir;

    private static final LlamaConfig TINY = LlamaConfig.of(16, 32, 2, 1, 2, 24, 16, 1e-5, 10000, true);
    private static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

    /** A learnable corpus: a period-9 pattern with every 7th token random. */
    private static int[] corpus() {
        int[] pattern = {3, 7, 1, 9, 4, 4, 12, 20, 5};
        Rng r = new Rng(99);
        int[] t = new int[3000];
        for (int i = 0; i < t.length; i++) t[i] = i % 7 == 6 ? r.nextInt(24) : pattern[i % 9];
        return t;
    }

    private static TokenDataset data() {
        return new TokenDataset(corpus(), 0.1, 8, 5);
    }

    private static TrainConfig cfg(int steps, int micro, int accum) {
        return TrainConfig.defaults(steps, micro, accum, 1e-2).withEval(0, 8, 0, 1000);
    }

    private static List<Double> losses(MetricsLog m) {
        List<Double> out = new ArrayList<>();
        for (Map<String, Double> r : m.rows()) if (r.containsKey("loss")) out.add(r.get("loss"));
        return out;
    }

    @Test
    void resumedRunReproducesTheUninterruptedRunBitForBit() throws Exception {
        TrainConfig c = cfg(6, 2, 2);
        List<Double> whole;
        float[] wholeParams;
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 1); Trainer t = new Trainer(m, new FullTraining(), data(), c.withOutDir(dir.resolve("a"), false), QUIET)) {
            whole = losses(t.run().metrics());
            wholeParams = m.stateDict().get("model.layers.1.mlp.down_proj.weight").toFloatArray();
        }
        Path b = dir.resolve("b");
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 1); Trainer t = new Trainer(m, new FullTraining(), data(), c.withOutDir(b, true), QUIET)) {
            Trainer.Result r = t.run(3); // interrupted after 3 steps
            assertEquals(3, r.stepsDone());
        }
        assertTrue(Files.exists(b.resolve("checkpoint/trainer.json")));
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 777); Trainer t = new Trainer(m, new FullTraining(), data(), c.withOutDir(b, true), QUIET)) {
            assertEquals(3, t.step());
            List<Double> resumed = losses(t.run().metrics());
            assertEquals(whole, resumed, "losses of the resumed run (first 3 from its checkpoint's metrics)");
            assertArrayEquals(wholeParams, m.stateDict().get("model.layers.1.mlp.down_proj.weight").toFloatArray());
        }
        assertTrue(Files.exists(b.resolve("metrics.csv")) && Files.exists(b.resolve("loss.png")));
    }

    @Test
    void lossFallsAndActivationsReturnToTheirStartEveryStep() throws Exception {
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 2); Trainer t = new Trainer(m, new FullTraining(), data(), cfg(40, 4, 1), QUIET)) {
            double before = t.validate();
            Trainer.Result r = t.run();
            assertNull(r.failure());
            assertEquals(0, r.activationDriftBytes(), "activation bytes after each step equal those before the run");
            assertTrue(r.finalValLoss() < before - 0.5, "validation loss " + before + " -> " + r.finalValLoss());
            assertEquals(Math.exp(r.finalValLoss()), r.finalValPerplexity(), 1e-12);
            MemoryReport mem = r.memory();
            long paramBytes = 4 * m.numParameters();
            assertTrue(mem.peak(MemoryCategory.WEIGHTS) >= paramBytes, mem.format());
            assertTrue(mem.peak(MemoryCategory.OPTIMIZER) >= 2 * paramBytes, "two fp32 moments: " + mem.format());
            assertTrue(mem.peak(MemoryCategory.GRADIENTS) >= paramBytes, mem.format());
            assertTrue(mem.peak(MemoryCategory.ACTIVATIONS) > 0, mem.format());
            assertEquals(0, Allocator.liveBytes(MemoryCategory.GRADIENTS) - 0, "gradients are freed after each step");
            assertTrue(r.tokensPerSecond() > 0);
        }
    }

    @Test
    void accumulatingTwoMicroBatchesEqualsOneBatchOfTwiceTheSize() throws Exception {
        float[] a, b;
        double la, lb;
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 3); Trainer t = new Trainer(m, new FullTraining(), data(), cfg(1, 2, 2), QUIET)) {
            la = t.run().finalTrainLoss();
            a = m.stateDict().get("model.layers.0.self_attn.q_proj.weight").toFloatArray();
        }
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 3); Trainer t = new Trainer(m, new FullTraining(), data(), cfg(1, 4, 1), QUIET)) {
            lb = t.run().finalTrainLoss();
            b = m.stateDict().get("model.layers.0.self_attn.q_proj.weight").toFloatArray();
        }
        assertEquals(lb, la, 1e-5);
        for (int i = 0; i < a.length; i++) assertEquals(b[i], a[i], 1e-6, "element " + i);
    }

    @Test
    void perLayerUpdatesHoldOneGradientAtATimeAnd8BitAdamTrains() throws Exception {
        long fullGrad, perLayerGrad;
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 4); Trainer t = new Trainer(m, new FullTraining(), data(), cfg(3, 2, 1), QUIET)) {
            fullGrad = t.run().memory().peak(MemoryCategory.GRADIENTS);
        }
        TrainConfig pl = cfg(20, 2, 1).withOptimizer(TrainConfig.Optim.ADAMW, true);
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 4); Trainer t = new Trainer(m, new FullTraining(), data(), pl, QUIET)) {
            double before = t.validate();
            Trainer.Result r = t.run();
            perLayerGrad = r.memory().peak(MemoryCategory.GRADIENTS);
            assertTrue(r.finalValLoss() < before, "per-layer training learns: " + before + " -> " + r.finalValLoss());
        }
        assertTrue(perLayerGrad * 3 < fullGrad, "per-layer gradient peak " + perLayerGrad + " vs full " + fullGrad);
        assertThrows(IllegalArgumentException.class, () -> cfg(3, 2, 2).withOptimizer(TrainConfig.Optim.ADAMW, true));
        // 8-bit moments (the 24x16 embedding is below bitsandbytes' 4096 threshold; a wider vocab makes it quantized)
        LlamaConfig wide = TINY.withVocabSize(300);
        int[] tokens = corpus();
        try (LlamaForCausalLM m = new LlamaForCausalLM(wide, 4);
             Trainer t = new Trainer(m, new FullTraining(), new TokenDataset(tokens, 0.1, 8, 5), cfg(20, 2, 1).withOptimizer(TrainConfig.Optim.ADAMW8BIT, false), QUIET)) {
            double before = t.validate();
            Trainer.Result r = t.run();
            assertTrue(r.finalValLoss() < before - 0.5, before + " -> " + r.finalValLoss());
            assertTrue(t.optimizers().getFirst().stateDict().containsKey("0.exp_avg_code"), "embedding moments are 8-bit codes");
        }
    }

    /** Full training that poisons the final norm with NaN just before step {@code at}. */
    private static final class Poison implements TrainingMethod {
        private final int at;
        private Module model;

        Poison(int at) {
            this.at = at;
        }

        @Override public String name() { return "full"; }
        @Override public void prepare(Module m, Rng rng) { model = m; }
        @Override public List<Parameter> trainable(Module m) { return m.parameters(); }

        @Override
        public boolean beforeStep(int step, StepRunner runner) {
            if (step == at) {
                Tensor w = model.stateDict().get("model.norm.weight");
                w.setDouble(0, Double.NaN);
            }
            return false;
        }
    }

    /** Full training that writes NaN into element 3 of {@code name}'s gradient during the backward of step {@code at}. */
    private static final class PoisonGradient implements TrainingMethod {
        private final String name;
        private final int at;
        private int current = -1;

        PoisonGradient(String name, int at) {
            this.name = name;
            this.at = at;
        }

        @Override public String name() { return "full"; }
        @Override public List<Parameter> trainable(Module m) { return m.parameters(); }

        @Override
        public void prepare(Module m, Rng rng) {
            m.namedParameters().get(name).registerPostAccumulateGradHook(v -> {
                if (current == at) v.grad().setDouble(3, Double.NaN);
            });
        }

        @Override
        public boolean beforeStep(int step, StepRunner runner) {
            current = step;
            return false;
        }
    }

    private static TrainConfig withClip(TrainConfig c, double clip) {
        return new TrainConfig(c.steps(), c.microBatch(), c.accum(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(), c.beta1(),
                c.beta2(), c.eps(), c.optimizer(), c.perLayer(), clip, c.checkpointing(), c.evalEvery(), c.evalWindows(), c.saveEvery(),
                c.logEvery(), c.seed(), c.outDir(), c.resume());
    }

    @Test
    void nonFiniteGradientStopsAtItsStepNamingTheParameterBeforeAnyUpdate() throws Exception {
        String bad = "model.layers.1.mlp.down_proj.weight";
        for (double clip : new double[] {1.0, 0.0}) { // checked through the clipping norm, and element by element without clipping
            Path out = dir.resolve("nan-grad-" + clip);
            TrainConfig c = withClip(cfg(10, 2, 1).withEval(0, 4, 2, 1000).withOutDir(out, false), clip);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 6); Trainer t = new Trainer(m, new PoisonGradient(bad, 5), data(), c, new PrintStream(log))) {
                Trainer.Result r = t.run();
                assertEquals(5, r.stepsDone());
                assertEquals("step 5: non-finite gradient: " + bad + " (1 of 512 elements, first [3] = NaN)", r.failure(), "clip " + clip);
                assertTrue(log.toString().contains("stopped at step 5: non-finite gradient: " + bad), log.toString());
                for (var e : m.stateDict().entrySet())
                    for (float v : e.getValue().toFloatArray()) assertTrue(Float.isFinite(v), "no update was made with the bad gradient: " + e.getKey());
                assertEquals(0, Allocator.liveBytes(MemoryCategory.GRADIENTS), "gradients freed");
            }
            String info = Files.readString(out.resolve("checkpoint/trainer.json"));
            assertTrue(info.contains("\"step\": 4"), "the last good checkpoint is intact: " + info);
        }
        // per-layer updates consume each gradient during backward: the parameter it spoiled is named, at the same step
        TrainConfig pl = cfg(10, 2, 1).withOptimizer(TrainConfig.Optim.ADAMW, true);
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 6); Trainer t = new Trainer(m, new PoisonGradient(bad, 5), data(), pl, QUIET)) {
            Trainer.Result r = t.run();
            assertEquals(5, r.stepsDone());
            assertTrue(r.failure().startsWith("step 5: non-finite parameter after the update: " + bad + " ("), r.failure());
        }
    }

    @Test
    void nonFiniteLossStopsAtItsStepAndKeepsTheLastGoodCheckpoint() throws Exception {
        Path out = dir.resolve("nan");
        TrainConfig c = cfg(10, 2, 1).withEval(0, 4, 2, 1000).withOutDir(out, false);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 5); Trainer t = new Trainer(m, new Poison(5), data(), c, new PrintStream(log))) {
            Trainer.Result r = t.run();
            assertTrue(r.failed());
            assertEquals(5, r.stepsDone());
            assertTrue(r.failure().startsWith("step 5: loss is NaN; non-finite parameter: model.norm.weight (1 of 16 elements, first [0] = NaN)"), r.failure());
            assertTrue(log.toString().contains("stopped at step 5"), log.toString());
        }
        String info = Files.readString(out.resolve("checkpoint/trainer.json"));
        assertTrue(info.contains("\"step\": 4"), info);
        // the checkpoint is good: resuming from it trains on
        try (LlamaForCausalLM m = new LlamaForCausalLM(TINY, 5);
             Trainer t = new Trainer(m, new FullTraining(), data(), c.withOutDir(out, true), QUIET)) {
            assertEquals(4, t.step());
            Trainer.Result r = t.run();
            assertNull(r.failure());
            assertEquals(10, r.stepsDone());
        }
    }
}
