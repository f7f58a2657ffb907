package io.lowbit.models.train.methods;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.TrainingMethods;
import io.lowbit.quant.galore.GaLoreAdamW;
import io.lowbit.quant.loqt.LoQTLinear;
import io.lowbit.quant.loqt.UpdateSchedule;
import io.lowbit.quant.lora.LoRALinear;
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

/** Each method on a tiny model through the TrainingMethod seam, with a minimal stand-in for the trainer loop. */
@ExtendWith(NoLeaks.class)
class MethodsTrainingTest {
    static final int VOCAB = 16, N = 48;

    /** A deterministic next-token task: target = (3·id + 1) mod 16, two micro-batches per step. */
    static Tensor[] batch(int micro) {
        float[] ids = new float[N], tg = new float[N];
        int[] ii = new int[N], tt = new int[N];
        for (int i = 0; i < N; i++) {
            ii[i] = (i * 5 + micro * 7) % VOCAB;
            tt[i] = (3 * ii[i] + 1) % VOCAB;
        }
        return new Tensor[] {Tensor.of(ii, N), Tensor.of(tt, N)};
    }

    /** The trainer's loop as the TrainingMethod contract describes it; returns the loss per step. */
    static List<Double> train(TrainingMethod method, TinyLm model, int steps, double lr) {
        List<Parameter> params = method.trainable(model);
        List<Double> losses = new ArrayList<>();
        Tensor[] b0 = batch(0), b1 = batch(1);
        TrainingMethod.StepRunner runner = () -> {
            double sum = 0;
            for (Tensor[] b : new Tensor[][] {b0, b1}) {
                try (MemoryScope s = MemoryScope.open()) {
                    Var loss = F.mul(F.crossEntropy(model.forward(b[0]), b[1]), 0.5);
                    loss.backward();
                    sum += loss.item();
                }
            }
            return sum;
        };
        try (Optimizer opt = method.optimizer(params, ps -> new AdamW(ps, lr, 0.9, 0.999, 1e-6, 0))) {
            LrScheduler sched = new LrScheduler(Schedule.constant(), opt);
            for (int step = 0; step < steps; step++) {
                if (!method.beforeStep(step, runner)) {
                    losses.add(runner.forwardBackward());
                    opt.step();
                } else {
                    losses.add(Double.NaN);
                }
                opt.zeroGrad();
                model.zeroGrad();
                sched.step();
            }
        } finally {
            for (Tensor t : b0) t.close();
            for (Tensor t : b1) t.close();
        }
        return losses;
    }

    static double first(List<Double> l) {
        for (double v : l) if (!Double.isNaN(v)) return v;
        throw new AssertionError("no loss");
    }

    static double last(List<Double> l) {
        for (int i = l.size() - 1; i >= 0; i--) if (!Double.isNaN(l.get(i))) return l.get(i);
        throw new AssertionError("no loss");
    }

    private static MethodOptions options(int rank, int tau) {
        return new MethodOptions(rank, 0.5, tau, 1.2, UpdateSchedule.Kind.STATIC, 2, true);
    }

    @Test
    void everyMethodLowersTheLoss() {
        for (String name : TrainingMethods.names()) {
            double lr = name.startsWith("loqt") || name.contains("lora") ? 0.02 : 0.01;
            try (TinyLm model = new TinyLm(VOCAB, 16, 24, new Rng(1)); TrainingMethod m = TrainingMethods.create(name, options(4, 10))) {
                m.prepare(model, new Rng(2));
                List<Double> losses = train(m, model, 36, lr);
                System.out.printf(java.util.Locale.ROOT, "%-8s loss %.4f -> %.4f over 36 steps%n", name, first(losses), last(losses));
                assertTrue(last(losses) < 0.7 * first(losses), name + " did not learn: " + first(losses) + " -> " + last(losses) + " " + losses);
            }
        }
    }

    @Test
    void loqtReplacesTheProjectionsAndKeepsTheOptimizerState() {
        try (TinyLm model = new TinyLm(VOCAB, 16, 24, new Rng(1)); LoQTTraining m = new LoQTTraining(options(4, 5), true)) {
            m.prepare(model, new Rng(2));
            assertEquals(10, m.layers().size());
            for (var e : model.namedModules().entrySet())
                if (AdaptedLayers.isAdapted(e.getKey())) assertInstanceOf(LoQTLinear.class, e.getValue(), e.getKey());
            assertInstanceOf(Linear.class, model.get("lm_head"), "the LM head trains normally");
            List<Parameter> trainable = m.trainable(model);
            assertEquals(10 + 1 + 5 + 1, trainable.size(), "10 factors, embedding, 5 norms, lm_head");
            LoQTLinear q = m.layers().get("b0.q_proj");
            Parameter factor = q.factor();
            try (Optimizer opt = new AdamW(trainable, 0.01, 0.9, 0.999, 1e-6, 0)) {
                // drive steps 0..6 by hand: 0 and 5 are update steps
                Tensor[] b = batch(0);
                TrainingMethod.StepRunner runner = () -> {
                    try (MemoryScope s = MemoryScope.open()) {
                        Var loss = F.crossEntropy(model.forward(b[0]), b[1]);
                        loss.backward();
                        return loss.item();
                    }
                };
                assertTrue(m.beforeStep(0, runner), "step 0 is an update step");
                try (Tensor p = q.projection()) {
                    assertTrue(p.absMax() > 0, "P comes from step 0's gradient");
                }
                for (Parameter p : trainable) assertNull(p.grad(), "the full-gradient pass leaves no parameter gradient");
                for (Parameter p : trainable) assertTrue(p.requiresGrad(), "parameters are unfrozen again");
                for (int step = 1; step < 5; step++) {
                    assertFalse(m.beforeStep(step, runner));
                    runner.forwardBackward();
                    opt.step();
                    opt.zeroGrad();
                }
                Tensor expAvg = opt.state(factor).tensors().get("exp_avg");
                float[] before = expAvg.toFloatArray();
                assertTrue(m.beforeStep(5, runner), "step 5 is an update step (static τ = 5)");
                assertSame(factor, q.factor(), "same Parameter object");
                assertSame(expAvg, opt.state(factor).tensors().get("exp_avg"), "same optimizer state tensor");
                assertArrayEquals(before, expAvg.toFloatArray(), 0f, "no optimizer step on the update step");
                assertEquals(4, opt.state(factor).step());
                assertEquals(2, m.updates());
                assertEquals(MemoryCategory.ADAPTERS, factor.data().category());
                // checkpoint state names
                assertTrue(model.stateDict().containsKey("b0.q_proj.q_qweight"), model.stateDict().keySet().toString());
                assertTrue(model.stateDict().containsKey("b0.q_proj.p_qweight"));
                for (Tensor t : b) t.close();
            }
        }
    }

    @Test
    void reloraMergesResetsAndPrunes() {
        try (TinyLm model = new TinyLm(VOCAB, 16, 24, new Rng(1)); LoRATraining m = new LoRATraining(options(4, 6), true)) {
            m.prepare(model, new Rng(2));
            LoRALinear l = m.layers().get("b1.up_proj");
            assertFalse(l.weight().requiresGrad(), "W₀ frozen");
            List<Double> losses = train(m, model, 13, 0.02);
            assertEquals(2, m.resets(), "resets at steps 6 and 12");
            assertEquals(13, losses.size());
        }
        // pruning keeps the top 1% by magnitude
        try (Tensor t = Tensor.zeros(DType.F32, 200)) {
            for (int i = 0; i < 200; i++) t.setDouble(i, (i % 2 == 0 ? 1 : -1) * (i + 1));
            LoRATraining.pruneByMagnitude(t, 0.99);
            assertArrayEquals(new double[] {0, 0}, new double[] {t.getDouble(0), t.getDouble(197)});
            assertEquals(-200, t.getDouble(199));
            assertEquals(199, t.getDouble(198));
            int nonzero = 0;
            for (int i = 0; i < 200; i++) if (t.getDouble(i) != 0) nonzero++;
            assertEquals(2, nonzero);
        }
    }

    @Test
    void reloraJaggedLearningRate() {
        try (TinyLm model = new TinyLm(VOCAB, 16, 24, new Rng(1)); LoRATraining m = new LoRATraining(options(2, 20), true)) {
            m.prepare(model, new Rng(2));
            List<Parameter> params = m.trainable(model);
            try (Optimizer opt = m.optimizer(params, ps -> new AdamW(ps, 0.1, 0.9, 0.999, 1e-6, 0))) {
                TrainingMethod.StepRunner none = () -> 0;
                m.beforeStep(19, none);
                assertEquals(0.1, opt.paramGroups().get(0).lr(), 1e-12, "before the first reset: the run's lr");
                m.beforeStep(20, none); // reset; lr 0, then re-warm over max(2, τ/10) = 2 steps, no scheduler in between
                assertEquals(0.0, opt.paramGroups().get(0).lr(), 1e-12);
                m.beforeStep(21, none);
                assertEquals(0.05, opt.paramGroups().get(0).lr(), 1e-12, "factor applied to the base lr, not compounded");
                m.beforeStep(22, none);
                assertEquals(0.1, opt.paramGroups().get(0).lr(), 1e-12);
                m.beforeStep(23, none);
                assertEquals(0.1, opt.paramGroups().get(0).lr(), 1e-12);
            }
        }
    }

    @Test
    void galoreProjectsOnlyTheAdaptedWeights() {
        try (TinyLm model = new TinyLm(VOCAB, 16, 24, new Rng(1)); TrainingMethod m = TrainingMethods.create("galore", options(4, 10))) {
            m.prepare(model, new Rng(2));
            List<Parameter> params = m.trainable(model);
            assertEquals(model.parameters().size(), params.size(), "GaLore trains every parameter");
            try (Optimizer opt = m.optimizer(params, ps -> new AdamW(ps, 0.01, 0.9, 0.95, 1e-6, 0.1))) {
                GaLoreAdamW g = assertInstanceOf(GaLoreAdamW.class, opt);
                assertEquals(0.95, g.beta2());
                var named = model.namedParameters();
                assertTrue(g.isProjected(named.get("b0.gate_proj.weight")));
                assertFalse(g.isProjected(named.get("lm_head.weight")));
                assertFalse(g.isProjected(named.get("embed_tokens.weight")));
                assertEquals(0.1, g.paramGroups().get(0).weightDecay());
            }
        }
    }

    @Test
    void unknownNamesAndModelsWithoutProjectionsAreClearErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> TrainingMethods.create("qat", options(2, 5)));
        assertTrue(e.getMessage().contains("loqt-nq") && e.getMessage().contains("galore"), e.getMessage());
        try (Linear lonely = new Linear(3, 3, false, new Rng(1))) {
            var e2 = assertThrows(IllegalArgumentException.class, () -> new LoQTTraining(options(2, 5), true).prepare(lonely, new Rng(1)));
            assertTrue(e2.getMessage().contains("q_proj"), e2.getMessage());
        }
    }
}
