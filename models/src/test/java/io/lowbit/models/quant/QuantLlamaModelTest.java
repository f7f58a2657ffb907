package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.TestAssets;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The quantized-model runner on the real stories260K checkpoint: with dense weights it reproduces the
 * float inference model {@code LlamaModel}; quantized, generation and scoring agree with each other and
 * degrade gracefully with fewer bits.
 */
class QuantLlamaModelTest {
    private static long live;

    @BeforeAll
    static void start() {
        live = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked by QuantLlamaModelTest");
    }

    static LlamaWeights stories() throws java.io.IOException {
        return Llama2cCheckpoint.read(TestAssets.file("models/stories260K/stories260K.bin"));
    }

    @Test
    void denseRunnerMatchesLlamaModelLogits() throws Exception {
        try (LlamaWeights w = stories(); QuantizedLlama dense = QuantizedLlama.dense(w);
             QuantLlamaModel run = new QuantLlamaModel(dense, 96, 17); LlamaModel ref = new LlamaModel(w, 96)) {
            int vocab = w.config().vocabSize();
            int[][] seqs = QuantEval.sample(run, 1, 96, 7);
            float[] a = new float[96 * vocab], b = new float[96 * vocab];
            run.forwardAll(seqs[0], 0, a);
            ref.forwardAll(seqs[0], 0, b);
            double worst = 0;
            for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
            assertTrue(worst < 2e-4, "runner logits differ from LlamaModel by " + worst);
            // token-by-token decoding reproduces the chunked pass
            try (QuantLlamaModel step = new QuantLlamaModel(dense, 96, 1)) {
                for (int pos = 0; pos < 40; pos++) {
                    float[] l = step.forward(seqs[0][pos], pos);
                    for (int i = 0; i < vocab; i++) assertEquals(a[pos * vocab + i], l[i], 1e-4 * (1 + Math.abs(l[i])), "pos " + pos + " logit " + i);
                }
            }
        }
    }

    @Test
    void quantizedModelsDecodeAndScoreConsistently() throws Exception {
        try (LlamaWeights w = stories(); QuantizedLlama fp = QuantizedLlama.dense(w); QuantLlamaModel fpRun = new QuantLlamaModel(fp, 128, 64)) {
            int[] held = QuantEval.concat(QuantEval.sample(fpRun, 4, 128, 1000));
            double fpPpl = QuantEval.perplexity(fpRun, held, 128).perplexity();
            double prevKl = -1;
            for (int bits : new int[] {8, 4, 2}) {
                try (QuantizedLlama q = ModelQuantizer.quantize(w, () -> new AffineQuantizer(AffineSpec.perGroup(bits, false, 32)), null, null);
                     QuantLlamaModel run = new QuantLlamaModel(q, 128, 64); QuantLlamaModel step = new QuantLlamaModel(q, 128, 1)) {
                    QuantEval.Result r = QuantEval.compare(fpRun, run, held, 128);
                    System.out.printf("stories260K RTN g32 %d-bit: ppl %.4f (fp %.4f), KL %.5f%n", bits, r.perplexity(), fpPpl, r.meanKl());
                    assertTrue(r.meanKl() > prevKl, bits + "-bit KL " + r.meanKl() + " not above the " + "previous " + prevKl);
                    prevKl = r.meanKl();
                    if (bits == 8) assertEquals(fpPpl, r.perplexity(), 0.03 * fpPpl, "8-bit RTN should be within 3% of fp (measured 1.5%)");
                    // GEMV decode (1 row) equals the tiled-matmul chunk (64 rows) on quantized weights
                    float[] all = new float[20 * w.config().vocabSize()];
                    int[] prefix = java.util.Arrays.copyOf(held, 20);
                    run.forwardAll(prefix, 0, all);
                    for (int pos = 0; pos < 20; pos++) {
                        float[] l = step.forward(prefix[pos], pos);
                        for (int i = 0; i < l.length; i++) assertEquals(all[pos * l.length + i], l[i], 1e-3 * (1 + Math.abs(l[i])));
                    }
                }
            }
        }
    }
}
