package io.lowbit.autograd;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.nn.Embedding;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.tensor.Allocator;
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

/**
 * A one-block transformer learns a task only attention can solve: predict the token two positions back
 * (targets of the first two positions are the ignore index). Embedding → block (RMSNorm, GQA attention
 * with RoPE, SwiGLU) → lm head, trained with AdamW, warmup-cosine and checkpointing.
 */
@ExtendWith(NoLeaks.class)
class TransformerTrainingTest {

    @Test
    void learnsToLookTwoTokensBack() {
        int vocab = 12, dim = 32, b = 16, t = 16;
        Rng data = new Rng(77);
        try (TinyTransformer body = new TinyTransformer(1, dim, 4, 2, 64, vocab, t, 5, DType.F32);
             Embedding emb = new Embedding(vocab, dim, new Rng(6))) {
            body.checkpoint = true;
            List<Parameter> params = new ArrayList<>(body.parameters());
            params.add(emb.weight());
            try (AdamW opt = new AdamW(params, 1e-2, 0.9, 0.99, 1e-8, 0.0)) {
                int steps = 80;
                LrScheduler sched = new LrScheduler(Schedule.warmupCosine(5, steps, 0.1), opt);
                long act = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
                double first = 0, last = 0, accuracy = 0;
                for (int step = 0; step < steps; step++) {
                    int[] ids = new int[b * t], tg = new int[b * t];
                    for (int i = 0; i < ids.length; i++) ids[i] = data.nextInt(vocab);
                    for (int i = 0; i < ids.length; i++) tg[i] = i % t < 2 ? -100 : ids[i - 2];
                    try (MemoryScope _ = MemoryScope.open()) {
                        Tensor idT = Tensor.of(ids, b, t), tgT = Tensor.of(tg, b, t);
                        Var logits = body.forward(emb.forward(idT));
                        Var loss = F.crossEntropy(logits, tgT);
                        loss.backward();
                        opt.step();
                        opt.zeroGrad();
                        sched.step();
                        if (step == 0) first = loss.item();
                        last = loss.item();
                        if (step == steps - 1) {
                            int[] pred = logits.data().argmax(-1, false).toIntArray();
                            int ok = 0, n = 0;
                            for (int i = 0; i < pred.length; i++) if (tg[i] != -100) { n++; if (pred[i] == tg[i]) ok++; }
                            accuracy = ok / (double) n;
                        }
                    }
                    assertEquals(act, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "step " + step);
                }
                System.out.printf("transformer look-back task: loss %.3f -> %.3f, accuracy %.3f%n", first, last, accuracy);
                assertTrue(first > 2.0, "starts near ln(12) = 2.48: " + first);
                assertTrue(last < 0.3, "loss " + first + " -> " + last);
                assertTrue(accuracy > 0.95, "accuracy " + accuracy);
            }
        }
    }
}
