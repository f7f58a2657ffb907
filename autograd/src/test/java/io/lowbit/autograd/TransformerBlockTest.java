package io.lowbit.autograd;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.PerLayerOptimizer;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A tiny transformer end to end: gradient check in F64, and activation checkpointing in F32. */
@ExtendWith(NoLeaks.class)
class TransformerBlockTest {

    @Test
    void transformerBlockGradientsMatchFiniteDifferences() {
        // RMSNorm -> GQA attention (4 query heads, 2 kv heads) with RoPE -> residual -> RMSNorm -> SwiGLU -> residual -> CE
        try (TinyTransformer model = new TinyTransformer(1, 8, 4, 2, 12, 7, 16, 3, DType.F64); MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.normal(DType.F64, new Rng(4), 0, 1, 1, 5, 8));
            Tensor targets = Tensor.of(new int[] {1, 6, -100, 0, 3}, 1, 5);
            List<Var> inputs = new ArrayList<>();
            inputs.add(x);
            inputs.addAll(model.parameters());
            GradCheck.Result r = GradCheck.assertGradients(in -> model.loss(in[0], targets), 1e-6, 1e-7, 1e-5, inputs.toArray(new Var[0]));
            assertTrue(r.checked() > 500, "checked " + r.checked() + " elements");
        }
    }

    @Test
    void backwardAndReleaseFreesActivationsProgressivelyWithSameGradients() {
        try (TinyTransformer a = new TinyTransformer(3, 64, 4, 2, 160, 50, 64, 11, DType.F32);
             TinyTransformer b = new TinyTransformer(3, 64, 4, 2, 160, 50, 64, 11, DType.F32)) {
            Tensor x = Tensor.normal(DType.F32, new Rng(12), 0, 1, 2, 40, 64);
            int[] tg = new int[80];
            for (int i = 0; i < tg.length; i++) tg[i] = (i * 7) % 50;
            Tensor targets = Tensor.of(tg, 2, 40);
            long[] peaks = new long[2], after = new long[2];
            for (int m = 0; m < 2; m++) {
                long before = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
                try (MemoryScope _ = MemoryScope.open()) {
                    Var loss = (m == 0 ? a : b).loss(new Var(x), targets);
                    Allocator.resetPeak();
                    if (m == 0) loss.backward();
                    else loss.backwardAndRelease();
                    peaks[m] = Allocator.peakBytes(MemoryCategory.ACTIVATIONS) - before;
                    after[m] = Allocator.liveBytes(MemoryCategory.ACTIVATIONS) - before;
                    assertTrue(Double.isFinite(loss.item()), "the loss itself stays readable");
                }
                assertEquals(before, Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
            }
            System.out.printf("backward(): activation peak %d, live after %d bytes; backwardAndRelease(): peak %d, live after %d bytes%n",
                    peaks[0], after[0], peaks[1], after[1]);
            assertTrue(peaks[1] < peaks[0], peaks[1] + " vs " + peaks[0]);
            assertEquals(64, after[1], "only the 0-d loss (one 64-byte block) survives backwardAndRelease");
            assertTrue(after[0] > 500_000, "backward() keeps the activations for the step scope: " + after[0]);
            Map<String, Parameter> pa = a.namedParameters(), pb = b.namedParameters();
            for (String k : pa.keySet())
                assertArrayEquals(pa.get(k).grad().toFloatArray(), pb.get(k).grad().toFloatArray(), "gradient of " + k);
            x.close();
            targets.close();
        }
    }

    @Test
    void perLayerUpdatesInsideCheckpointedBackwardMatchANormalStep() {
        try (TinyTransformer a = new TinyTransformer(2, 32, 4, 2, 48, 20, 16, 21, DType.F32);
             TinyTransformer b = new TinyTransformer(2, 32, 4, 2, 48, 20, 16, 21, DType.F32)) {
            b.checkpoint = true; // hooks fire inside each segment's recomputation backward
            Tensor x = Tensor.normal(DType.F32, new Rng(22), 0, 1, 2, 12, 32);
            int[] tg = new int[24];
            for (int i = 0; i < tg.length; i++) tg[i] = (i * 5) % 20;
            Tensor targets = Tensor.of(tg, 2, 12);
            try (AdamW normal = new AdamW(a.parameters(), 1e-2, 0.9, 0.999, 1e-8, 0.01);
                 PerLayerOptimizer perLayer = PerLayerOptimizer.attach(b.parameters(), ps -> new AdamW(ps, 1e-2, 0.9, 0.999, 1e-8, 0.01))) {
                for (int step = 0; step < 2; step++) {
                    try (MemoryScope _ = MemoryScope.open()) {
                        a.loss(new Var(x), targets).backward();
                        normal.step();
                        normal.zeroGrad();
                        Allocator.resetPeak();
                        b.loss(new Var(x), targets).backward();
                        long largest = 0;
                        for (Parameter p : b.parameters()) largest = Math.max(largest, (p.numel() * 4 + 63) / 64 * 64);
                        assertEquals(largest, Allocator.peakBytes(MemoryCategory.GRADIENTS));
                    }
                    Map<String, Parameter> pa = a.namedParameters(), pb = b.namedParameters();
                    for (String k : pa.keySet()) {
                        assertNull(pb.get(k).grad());
                        assertArrayEquals(pa.get(k).data().toFloatArray(), pb.get(k).data().toFloatArray(), k + " after step " + step);
                    }
                }
            }
            x.close();
            targets.close();
        }
    }

    private static Map<String, Parameter> gradsOf(TinyTransformer m) {
        return m.namedParameters();
    }

    @Test
    void checkpointingGivesIdenticalGradientsWithLowerPeak() {
        int layers = 4, dim = 64, b = 2, t = 48;
        try (TinyTransformer plain = new TinyTransformer(layers, dim, 4, 2, 160, 50, 64, 7, DType.F32);
             TinyTransformer ckpt = new TinyTransformer(layers, dim, 4, 2, 160, 50, 64, 7, DType.F32)) {
            ckpt.checkpoint = true;
            Tensor x = Tensor.normal(DType.F32, new Rng(8), 0, 1, b, t, dim);
            int[] tg = new int[b * t];
            for (int i = 0; i < tg.length; i++) tg[i] = (i * 13) % 50;
            Tensor targets = Tensor.of(tg, b, t);
            long[] peaks = new long[2];
            Var[] inputs = new Var[2];
            TinyTransformer[] models = {plain, ckpt};
            for (int m = 0; m < 2; m++) {
                inputs[m] = Var.param(x.copy());
                long before = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
                Allocator.resetPeak();
                try (MemoryScope _ = MemoryScope.open()) {
                    models[m].loss(inputs[m], targets).backward();
                }
                peaks[m] = Allocator.peakBytes(MemoryCategory.ACTIVATIONS) - before;
                assertEquals(before, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "activations returned after the step");
            }
            System.out.printf("activation peak: plain %d bytes, checkpointed %d bytes (%.2fx)%n", peaks[0], peaks[1], (double) peaks[0] / peaks[1]);
            assertTrue(peaks[1] < 0.75 * peaks[0], "checkpointed peak " + peaks[1] + " vs plain " + peaks[0]);
            assertArrayEquals(inputs[0].grad().toFloatArray(), inputs[1].grad().toFloatArray(), "input gradient bit for bit");
            Map<String, Parameter> pa = gradsOf(plain), pb = gradsOf(ckpt);
            for (String k : pa.keySet())
                assertArrayEquals(pa.get(k).grad().toFloatArray(), pb.get(k).grad().toFloatArray(), "gradient of " + k + " bit for bit");
            for (Var v : inputs) v.close();
            x.close();
            targets.close();
        }
    }
}
