package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.quant.modulora.ModuLora;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The autograd LLaMA reproduces {@code LlamaModel} on stories260K, and ModuLoRA over a 3-bit GPTQ base,
 * fine-tuned on text sampled from the float model, lowers the held-out loss towards the float model's (the
 * direction of the ModuLoRA spec's claim; a unit-test budget of steps closes only part of the gap).
 */
class TrainableLlamaTest {
    private static long live;

    @BeforeAll
    static void start() {
        live = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked by TrainableLlamaTest");
    }

    private static Tensor ids(int[][] seqs, int from, int count) {
        int t = seqs[0].length;
        int[] flat = new int[count * t];
        for (int i = 0; i < count; i++) System.arraycopy(seqs[from + i], 0, flat, i * t, t);
        return Tensor.of(flat, count, t);
    }

    /** Mean next-token NLL of the model on [B, T] ids. */
    private static double nll(TrainableLlama m, Tensor ids) {
        int b = ids.size(0), t = ids.size(1);
        try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
            Var logits = m.forward(ids.narrow(1, 0, t - 1).contiguous());
            Tensor targets = ids.narrow(1, 1, t - 1).contiguous();
            return F.crossEntropy(F.reshape(logits, b * (t - 1), m.config().vocabSize()), targets.reshape(b * (t - 1))).item();
        }
    }

    @Test
    void logitsMatchTheInferenceModel() throws Exception {
        try (LlamaWeights w = QuantizedInferenceTest.stories(); TrainableLlama m = new TrainableLlama(w, 64); LlamaModel ref = new LlamaModel(w, 64)) {
            int[] toks = {1, 461, 401, 300, 17, 99, 250, 3, 42, 480, 2, 1, 77};
            int vocab = w.config().vocabSize();
            float[] expect = new float[toks.length * vocab];
            ref.forwardAll(toks, 0, expect);
            try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
                float[] got = m.forward(Tensor.of(toks, 1, toks.length)).data().toFloatArray();
                for (int i = 0; i < got.length; i++) assertEquals(expect[i], got[i], 2e-4 * (1 + Math.abs(expect[i])), "logit " + i);
            }
        }
    }

    @Test
    void moduloraOverGptq3BitNarrowsTheGap() throws Exception {
        try (LlamaWeights w = QuantizedInferenceTest.stories(); QuantizedLlama fp = QuantizedLlama.dense(w); LlamaModel run = new LlamaModel(fp, 64, 1);
             TrainableLlama ref = new TrainableLlama(w, 64); TrainableLlama m = new TrainableLlama(w, 64)) {
            int[][] data = QuantEval.sample(run, 40, 32, 11); // 32 for training, 8 held out
            try (Tensor train = ids(data, 0, 32); Tensor held = ids(data, 32, 8); Tensor calib = ids(data, 0, 8)) {
                double fpNll = nll(ref, held);
                ModuLora.apply(m, QuantMethods.of("gptq", 3, 32, false, false), new LoraConfig(8, 16, 0.0, LoraConfig.LLAMA_TARGETS), new Rng(5), () -> {
                    try (MemoryScope s = MemoryScope.open()) {
                        m.forward(calib);
                    }
                });
                double before = nll(m, held);
                try (AdamW opt = new AdamW(m.parameters().stream().filter(Var::requiresGrad).toList(), 1e-3, 0.9, 0.999, 1e-8, 0.0)) {
                    for (int step = 0; step < 24; step++) {
                        try (MemoryScope s = MemoryScope.open(); Tensor batch = train.narrow(0, (step % 8) * 4, 4).contiguous()) {
                            Var logits = m.forward(batch.narrow(1, 0, 31).contiguous());
                            Var loss = F.crossEntropy(F.reshape(logits, 4 * 31, w.config().vocabSize()), batch.narrow(1, 1, 31).contiguous().reshape(4 * 31));
                            loss.backward();
                            opt.step();
                            opt.zeroGrad();
                        }
                    }
                }
                double after = nll(m, held);
                System.out.printf("stories260K ModuLoRA over GPTQ 3-bit g32: held-out NLL fp %.4f, quantized %.4f, after 24 steps %.4f (gap closed %.0f%%)%n",
                        fpNll, before, after, 100 * (before - after) / (before - fpNll));
                assertTrue(before > fpNll, "quantization should cost something");
                // measured: fp 2.82, GPTQ-3 5.79, 12% of the gap closed after 40 steps; this budget only shows it learning
                assertTrue(after < before - 0.03 * (before - fpNll), "ModuLoRA did not reduce the held-out loss: " + fpNll + " / " + before + " -> " + after);
            }
        }
    }
}
