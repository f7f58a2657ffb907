package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.TrainingMethods;
import io.lowbit.models.train.methods.LoQTTraining;
import io.lowbit.quant.loqt.LoQTLinear;
import io.lowbit.quant.loqt.UpdateSchedule;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Memory over long runs (issue 10): thousands of training steps on a tiny model leave the off-heap live bytes of
 * every category exactly where they were after the first steps (no leak per step), and closing the trainer
 * and the model returns them to the figure before the model existed — for every training method, also when a
 * LoQT update step was interrupted halfway.
 */
class MemorySoakTest {
    private static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

    private static TokenDataset data() {
        return new TokenDataset(TrainChild.corpus(), 0.1, 8, 5);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void thousandsOfStepsLeaveLiveBytesFlatAndClosingReturnsThemAll() throws Exception {
        Map<MemoryCategory, Long> warm = soak("full", MethodOptions.defaults(4, 5), 3000, 100);
        assertEquals(0, warm.get(MemoryCategory.GRADIENTS) + warm.get(MemoryCategory.ACTIVATIONS) + warm.get(MemoryCategory.SCRATCH), warm.toString());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void loqtUpdateStepsLeaveLiveBytesFlat() throws Exception {
        // an update step (merge, requantize, full-gradient pass, SVD, error compensation) every 50 steps: 20 of them
        MethodOptions o = new MethodOptions(4, 0.5, 50, 1.2, UpdateSchedule.Kind.STATIC, 5, true);
        Map<MemoryCategory, Long> warm = soak("loqt", o, 1000, 50);
        assertTrue(warm.get(MemoryCategory.QUANTIZED) > 0, "NF4 Q and P are live: " + warm);
    }

    /**
     * Trains {@code method} for {@code steps} steps on the tiny model in chunks, asserting that the live bytes of
     * every category after each chunk equal those after the first chunk, and that closing trainer and model
     * returns every byte. Prints the figures; returns the live bytes after the first chunk.
     */
    private static Map<MemoryCategory, Long> soak(String name, MethodOptions options, int steps, int chunk) throws Exception {
        Map<MemoryCategory, Long> before = Allocator.snapshot(), warm, end;
        long t0 = System.nanoTime();
        TrainConfig cfg = TrainConfig.defaults(steps, 2, 1, 3e-3).withEval(0, 2, 0, 1_000_000);
        try (LlamaForCausalLM model = new LlamaForCausalLM(TrainChild.TINY, 7); TrainingMethod method = TrainingMethods.create(name, options);
             Trainer t = new Trainer(model, method, data(), cfg, QUIET)) {
            assertNull(t.run(chunk).failure());
            warm = Allocator.snapshot(); // weights, optimizer moments: allocated by now, and nothing may grow
            if (name.equals("full"))
                assertEquals(3 * 4 * model.numParameters(), grown(before, warm, MemoryCategory.WEIGHTS) + grown(before, warm, MemoryCategory.OPTIMIZER),
                        "weights + two fp32 moments: " + warm);
            for (int s = 2 * chunk; s <= steps; s += chunk) {
                Trainer.Result r = t.run(s);
                assertNull(r.failure(), name + " step " + s);
                assertEquals(warm, Allocator.snapshot(), name + ": live bytes per category after step " + s + " vs after step " + chunk);
            }
            end = Allocator.snapshot();
            assertEquals(steps, t.step());
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(before, Allocator.snapshot(), name + ": closing trainer and model returns every byte");
        System.out.printf("soak: %d steps of %s training in %.1f s; live bytes before the model %s, after step %d %s (%d B), after step %d %s (%d B), "
                + "after close %d B%n", steps, name, seconds, before, chunk, warm, sum(warm), steps, end, sum(end), Allocator.liveBytes());
        return warm;
    }

    private static long grown(Map<MemoryCategory, Long> from, Map<MemoryCategory, Long> to, MemoryCategory c) {
        return to.getOrDefault(c, 0L) - from.getOrDefault(c, 0L);
    }

    private static long sum(Map<MemoryCategory, Long> m) {
        return m.values().stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void closingTheModelReleasesEverythingForEveryMethod() throws Exception {
        for (String name : TrainingMethods.names()) {
            Map<MemoryCategory, Long> before = Allocator.snapshot();
            TrainConfig cfg = TrainConfig.defaults(12, 2, 1, 1e-2).withEval(0, 2, 0, 1000);
            TrainingMethod method = TrainingMethods.create(name, MethodOptions.defaults(4, 3));
            LlamaForCausalLM model = new LlamaForCausalLM(TrainChild.TINY, 3);
            try (Trainer t = new Trainer(model, method, data(), cfg, QUIET)) {
                assertNull(t.run().failure(), name);
            }
            if (method instanceof LoQTTraining loqt) // an update step interrupted after its merge: Q' and the W_fp temporaries are live
                for (LoQTLinear l : loqt.layers().values()) l.beginUpdate();
            long live = Allocator.liveBytes();
            assertTrue(live > sum(before), name + ": the model holds memory");
            model.close(); // the model alone: not the method
            assertEquals(before, Allocator.snapshot(), name + ": closing the model released everything (it held " + (live - sum(before)) + " B)");
            model.close();
            method.close();
            assertEquals(before, Allocator.snapshot(), name + ": closing twice frees nothing twice");
        }
    }
}
