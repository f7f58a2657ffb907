package io.lowbit.examples;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every example's main on its defaults (or small arguments), with the numbers it prints checked: what the
 * tutorial claims must stay true. Each example also reports its own leaked bytes, which must be 0.
 */
@ExtendWith(NoLeaks.class)
class ExamplesTest {
    /** The first greedy tokens of stories260K from BOS (what llama2.c's run prints at temperature 0). */
    static final String STORIES_FIRST_20 = "461 461 401 401 401 461 378 455 473 456 435 299 362 409 283 264 283 452 288 13";

    static void noLeak(Captured c) {
        assertEquals(0, c.number("^leaked bytes: (-?\\d+)$"), "the example reports leaked off-heap bytes");
    }

    @Test
    void gptqThenModuLoRAWinsBackPartOfTheGapWithAdapterGradientsOnly() throws Exception {
        Captured c = Captured.run(GptqThenModuLoRA::main, "--stories", "256", "--steps", "30", "--tokens", "32");
        double fp = c.number("^float model:\\s+held-out loss (\\S+)"), q = c.number("^gptq3 base:\\s+held-out loss (\\S+)");
        double after = c.number("^after ModuLoRA:\\s+held-out loss (\\S+)");
        assertTrue(q > fp + 1, "3-bit GPTQ costs stories260K a lot: " + fp + " -> " + q);
        assertTrue(after < q - 0.2 * (q - fp), "30 adapter steps win back at least a fifth of the gap: " + q + " -> " + after + " (fp " + fp + ")");
        java.util.function.Function<String, Long> bytes = re -> Long.parseLong(c.find(re).replace(",", ""));
        assertEquals(bytes.apply("\\(= the adapters' ([0-9,]+) B\\)"), bytes.apply("training peaks: gradients ([0-9,]+) B"), "no gradient beyond the adapters'");
        assertTrue(bytes.apply("linears: ([0-9,]+) B dense F32") > 6 * bytes.apply("B dense F32 -> ([0-9,]+) B packed"));
        noLeak(c);
    }

    @Test
    void memoryPlannerReproducesThePaperColumnAndTheFitClaims() throws Exception {
        Captured c = Captured.run(MemoryPlanner::main);
        // LoQT paper memory column (GiB): 60M 0.23, 130M 0.49, 350M 0.98, 1B 3.16 — within 5%
        assertEquals(0.23, c.number("^60M\\s+r=128\\s+\\S+\\s+(\\S+)"), 0.05 * 0.23);
        assertEquals(0.49, c.number("^130M\\s+r=256\\s+\\S+\\s+(\\S+)"), 0.05 * 0.49);
        assertEquals(0.98, c.number("^350M\\s+r=256\\s+\\S+\\s+(\\S+)"), 0.05 * 0.98);
        assertEquals(3.16, c.number("^1B\\s+r=512\\s+\\S+\\s+(\\S+)"), 0.05 * 3.16);
        c.contains("7B   full  adamw                total  50.21 GiB -> does NOT fit a 24 GiB GPU");
        c.contains("7B   loqt  adamw                total  17.47 GiB -> fits a 24 GiB GPU");
        c.contains("13B  loqt  adamw8bit per-layer  total  17.58 GiB -> fits a 24 GiB GPU");
        noLeak(c);
    }

    @Test
    void tensorsAndAutogradFitsSin() throws Exception {
        Captured c = Captured.run(TensorsAndAutograd::main);
        c.contains("a       = Tensor(F32[2, 3] [1.0, 2.0, 3.0, 40.0, 5.0, 6.0])");   // the write through the row view
        c.contains("a.t()   = shape [3, 2], strides [1, 3], contiguous false");
        c.contains("expand(2, 4) = Tensor(F32[2, 4] [3.0, 3.0, 3.0, 3.0, 6.0, 6.0, 6.0, 6.0]), strides [3, 0]");
        c.contains("Tensor(F32[3] [241.0, 407.0, 609.0])");                       // broadcast add, then column sums
        c.contains("(a+bias)·aᵀ = Tensor(F32[2, 2] [1414.0, 6868.0, 1468.0, 8461.0])");
        // four 64-byte blocks inside the scope (a, bias, a+bias, sums); a and the kept product after it
        assertEquals(256, c.number("inside the scope: live (\\d+) bytes"));
        assertEquals(128, c.number("after the scope:  live (\\d+) bytes"));
        double first = c.number("^step    1  loss (\\S+)"), last = c.number("^final loss (\\S+)");
        assertTrue(first > 1.0, "an untrained MLP is far from sin(x): " + first);
        assertTrue(last < 0.02, "300 AdamW steps fit sin(x) to MSE < 0.02, got " + last);
        assertEquals(0, c.number("step  300 .*grads (\\d+) B") % 64); // gradients are 64-byte blocks
        noLeak(c);
    }

    @Test
    void customFunctionGradCheckAndQat(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("loss.png");
        Captured c = Captured.run(CustomFunction::main, "--plot", png.toString());
        assertEquals("true", c.find("Swish forward matches F.silu: (\\w+)"));
        assertEquals("true", c.find("GradCheck Swish:\\s+passed=(\\w+)"));
        assertTrue(c.number("max \\|analytic - numeric\\| = (\\S+) ") < 1e-6);
        assertEquals("false", c.find("GradCheck FakeQuantSte:\\s+passed=(\\w+)"), "finite differences see round()'s zero derivative");
        double floatLoss = c.number("^step  400  float loss (\\S+)");
        double ptq = c.number("rounded to 3 bits after training: loss (\\S+)");
        double qat = c.number("final 3-bit QAT loss (\\S+);");
        assertTrue(floatLoss < 0.02, "400 AdamW steps fit sin(x): " + floatLoss);
        assertTrue(qat < 0.1, "QAT with 3-bit weights still fits sin(x): " + qat);
        assertTrue(qat < ptq / 2, "training through the quantizer must beat rounding afterwards: QAT " + qat + " vs PTQ " + ptq);
        assertTrue(c.number("W1 used (\\d+) distinct values") <= 8, "3-bit weights take at most 8 values");
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 4);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, head, "the loss curves are a PNG");
        noLeak(c);
    }

    @Test
    void customFunctionAtTwoBits(@TempDir Path dir) throws Exception {
        Captured c = Captured.run(CustomFunction::main, "--steps", "100", "--bits", "2", "--plot", dir.resolve("p.png").toString());
        assertTrue(c.number("W1 used (\\d+) distinct values") <= 4);
        assertTrue(c.number("final 2-bit QAT loss (\\S+);") < c.number("rounded to 2 bits after training: loss (\\S+)"));
        noLeak(c);
        assertThrows(IllegalArgumentException.class, () -> CustomFunction.main(new String[] {"--bits", "1"}));
    }

    @Test
    void generateReproducesTheKnownGreedyIds() throws Exception {
        Captured c = Captured.run(GenerateFromCheckpoint::main, "--tokens", "20");
        c.contains("stories260K.bin: dim 64, 5 layers, 8 heads (4 kv), vocab 512, context 512");
        assertEquals(STORIES_FIRST_20, c.find("^greedy: 20 tokens, \\d+ tokens/s\\n  (.*)$"));
        String sampled = c.find("^top-p 0.90, T 0.90, seed 42: \\d+ tokens, \\d+ tokens/s\\n  (.*)$");
        Captured again = Captured.run(GenerateFromCheckpoint::main, "--tokens", "20");
        assertEquals(sampled, again.find("^top-p 0.90, T 0.90, seed 42: \\d+ tokens, \\d+ tokens/s\\n  (.*)$"), "sampling is seeded");
        Captured other = Captured.run(GenerateFromCheckpoint::main, "--tokens", "20", "--seed", "7");
        assertNotEquals(sampled, other.find("^top-p 0.90, T 0.90, seed 7: \\d+ tokens, \\d+ tokens/s\\n  (.*)$"));
        noLeak(c);
    }

    record Table(double rtn4, double rtn3, double nf4, double gptq4, double gptq3, double rtn4Bits, double rtn3Bits, double nf4Bits) {
        static Table of(Captured c) {
            return new Table(c.number("^RTN int4 g32 .* (\\S+)$"), c.number("^RTN int3 g32 .* (\\S+)$"),
                    c.number("^NF4 \\+ DQ \\(block 64\\) .* (\\S+)$"), c.number("^GPTQ int4 g32 .* (\\S+)$"),
                    c.number("^GPTQ int3 g32 .* (\\S+)$"), c.number("^RTN int4 g32\\s+(\\S+)"), c.number("^RTN int3 g32\\s+(\\S+)"),
                    c.number("^NF4 \\+ DQ \\(block 64\\)\\s+(\\S+)"));
        }
    }

    @Test
    void gptqBeatsRtnOnHeldOutOutputsGivenEnoughCalibration() throws Exception {
        // default: block 2's down projection [64, 172], calibrated on 4 stories
        Captured c = Captured.run(QuantizeAWeight::main);
        c.contains("weight layers.2.w2 [64, 172]; calibration 1024 tokens (4 stories), held-out 256 tokens");
        Table t = Table.of(c);
        assertTrue(t.gptq4() < t.rtn4(), "GPTQ int4 output error " + t.gptq4() + " not below RTN " + t.rtn4());
        assertTrue(t.gptq3() < t.rtn3(), "GPTQ int3 output error " + t.gptq3() + " not below RTN " + t.rtn3());
        assertTrue(t.rtn4() < t.rtn3() && t.nf4() < t.rtn3(), "4-bit grids beat 3-bit ones");
        // storage of 172-wide rows in groups of 32 (5 full + 1 of 12): codes packed per row into whole bytes
        // (4·172 bits = 86 bytes, 3·172 bits → 65 bytes), plus an F32 scale and an 8-bit zero per group
        assertEquals((8 * 86 + 6 * 40) / 172.0, t.rtn4Bits(), 0.0005);
        assertEquals((8 * 65 + 6 * 40) / 172.0, t.rtn3Bits(), 0.0005);
        assertTrue(t.nf4Bits() > 4.125 && t.nf4Bits() < 4.2, "NF4 + DQ is 4 bits + an 8-bit absmax per 64 + a little: " + t.nf4Bits());
        noLeak(c);
        // one story is too little data for a 172×172 Hessian: GPTQ's held-out error grows
        Table one = Table.of(Captured.run(QuantizeAWeight::main, "--calib-stories", "1"));
        assertEquals(t.rtn4(), one.rtn4(), 0.0, "RTN does not look at data");
        assertTrue(one.gptq4() > t.gptq4() && one.gptq3() > t.gptq3(), "more calibration data must help GPTQ");
    }

    @Test
    void gptqOnALayer0AttentionProjection() throws Exception {
        Captured c = Captured.run(QuantizeAWeight::main, "--layer", "0", "--weight", "wq", "--calib-stories", "2");
        c.contains("weight layers.0.wq [64, 64]; calibration 512 tokens (2 stories)");
        Table t = Table.of(c);
        assertTrue(t.gptq4() < t.rtn4() && t.gptq3() < t.rtn3(), "GPTQ beats RTN on layer 0's wq: " + t);
        assertEquals(5.25, t.rtn4Bits(), 1e-9); // 4 + 32/32 + 8/32
        assertEquals(4.25, t.rtn3Bits(), 1e-9);
        noLeak(c);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantizeAWeight.main(new String[] {"--weight", "wx"}));
        assertTrue(e.getMessage().contains("wq wk wv wo w1 w2 w3"), e.getMessage());
    }

    @Test
    void layer0AttentionInputsAreRmsNormalizedEmbeddings() throws Exception {
        try (LlamaWeights w = Checkpoints.load(SharedAssets.stories260K())) {
            int[] ids = {1, 461, 7, 511};
            try (Tensor x = QuantizeAWeight.inputsOf(w, ids, 0, "wk")) {
                int d = w.config().hiddenSize();
                assertArrayEquals(new int[] {ids.length, d}, x.shape());
                for (int r = 0; r < ids.length; r++) {
                    double ss = 0;
                    for (int i = 0; i < d; i++) ss += Math.pow(w.tokEmbeddings().get(ids[r], i), 2);
                    double inv = 1 / Math.sqrt(ss / d + w.config().rmsNormEps());
                    for (int i = 0; i < d; i++)
                        assertEquals(w.tokEmbeddings().get(ids[r], i) * inv * w.layers().get(0).attnNorm().get(i), x.get(r, i), 1e-5);
                }
            }
        }
    }

    @Test
    void relativeErrorOnExactCases() {
        try (Tensor a = Tensor.of(new float[] {3, 4, 0, 0}, 2, 2); Tensor b = Tensor.of(new float[] {3, 0, 0, 0}, 2, 2);
             Tensor x = Tensor.of(new float[] {1, 0}, 1, 2)) {
            assertEquals(0.8, QuantizeAWeight.relativeError(a, b, null), 1e-7);   // ||(0,4)|| / ||(3,4)||
            assertEquals(0.0, QuantizeAWeight.relativeError(a, b, x), 1e-7);      // x only reads column 0, which matches
        }
    }

    @Test
    void tokenizerTour() throws Exception {
        Captured c = Captured.run(TokenizerTour::main, "--vocab", "1024", "--train-chars", "100000");
        c.contains("ids    [1, 15043, 3186]\n  pieces <s> ▁Hello ▁world");
        c.contains("<0xF0> <0x9F> <0x90> <0x8B>");                   // the whale emoji through byte fallback
        assertFalse(c.out().contains("decode == text: false"), c.out());
        assertFalse(c.out().contains("== text: false"), c.out());
        c.contains("trained a 1024-token byte-level BPE");
        double llama = c.number("llama\\s+vocab 32000:.* (\\S+) chars/token");
        double ours = c.number("ours\\s+vocab  1024:.* (\\S+) chars/token");
        assertTrue(ours > 2.0 && ours < llama, "a 1024-token BPE compresses, but less than a 32000-token one: " + ours + " vs " + llama);
    }

    @Test
    void quickStartQuantizesEveryLinearAndGenerates() throws Exception {
        Captured c = Captured.run(QuickStart::main);
        assertEquals(35, c.number("quantized (\\d+) linears"), "7 linears in each of 5 layers");
        assertEquals(5.271, c.number("([\\d.]+) bits/weight on average"), 0.0005);
        int[] ids = Arrays.stream(c.find("greedy ids: \\[(.*)\\]").split(", ")).mapToInt(Integer::parseInt).toArray();
        assertEquals(32, ids.length);
        assertEquals(461, ids[0], "the int4 model still starts the way the float model does");
        assertTrue(Arrays.stream(ids).allMatch(i -> i > 2 && i < 512));
        assertEquals(c.out(), Captured.run(QuickStart::main).out(), "greedy generation is deterministic");
    }

    @Test
    void missingSharedFolderIsAClearError() {
        String old = System.getProperty("lowbit.shared");
        try {
            System.setProperty("lowbit.shared", "/nonexistent/shared");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> GenerateFromCheckpoint.main(new String[0]));
            assertTrue(e.getMessage().contains("/nonexistent/shared") && e.getMessage().contains("LOWBIT_SHARED"), e.getMessage());
        } finally {
            System.setProperty("lowbit.shared", old);
        }
    }

    @Test
    void exampleArgs() {
        ExampleArgs a = ExampleArgs.parse(new String[] {"--steps", "5", "--lr=0.5"});
        assertEquals(5, a.getInt("steps", 1));
        assertEquals(0.5, a.getDouble("lr", 1));
        assertEquals(3, a.getInt("other", 3));
        a.done();
        assertThrows(IllegalArgumentException.class, () -> ExampleArgs.parse(new String[] {"steps"}));
        assertThrows(IllegalArgumentException.class, () -> ExampleArgs.parse(new String[] {"--steps"}));
        assertThrows(IllegalArgumentException.class, () -> ExampleArgs.parse(new String[] {"--steps", "x"}).getInt("steps", 1));
        ExampleArgs typo = ExampleArgs.parse(new String[] {"--stpes", "5"});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, typo::done);
        assertTrue(e.getMessage().contains("--stpes"), e.getMessage());
    }

    @Test
    void lrQatStoresPhiTrainsABsAndMergesToRtnSizedIntegers() throws Exception {
        Captured c = Captured.run(LrQat::main, "--steps", "60");
        assertEquals(4096, c.number("Φ0\\[0, :8\\] Q4.4 .*\\((\\d+) bytes for 4096 weights\\)"), "Q4.4: one byte per weight");
        assertEquals(2048, c.number("Φ0\\[0, :8\\] INT4 .*\\((\\d+) bytes for 4096 weights\\)"), "INT4: two weights per byte");
        assertEquals(0.0, c.number("A starts at \\|A\\|max = (\\S+)$"));
        double rtn = c.number("RTN W3 \\(symmetric, per channel\\) (\\S+),"), start = c.number("step 0 \\(A = 0\\): perplexity (\\S+) ");
        double merged = c.number("merged W3 checkpoint: perplexity (\\S+) "), fake = c.number("\\(fake-quant model (\\S+)\\)");
        assertEquals(fake, merged, 0, "the merged integers score exactly what the fake-quant model scored");
        assertTrue(merged < start && merged < rtn, "LR-QAT must improve on its RTN start: " + merged + " vs " + start + " / " + rtn);
        assertEquals(c.number("linears (\\d+) bytes \\(RTN"), c.number("\\(RTN: (\\d+)\\)"), "same integer format as RTN");
        assertTrue(c.number("moved (\\d+) of 4096 integers") > 0);
        noLeak(c);
    }

    @Test
    void efficientQatBlockApThenE2eQpImproveOnRtn() throws Exception {
        Captured c = Captured.run(EfficientQat::main, "--steps", "60");
        double rtn = c.number("RTN W2 g32 \\(asymmetric, min-max\\) (\\S+)$"), blockAp = c.number("after Block-AP: perplexity (\\S+)$");
        double e2e = c.number("E2E-QP: \\d+ steps on \\d+ step sizes \\(nothing else trains\\): perplexity (\\S+)$");
        assertTrue(blockAp < rtn && e2e < blockAp, "RTN " + rtn + " > Block-AP " + blockAp + " > E2E-QP " + e2e);
        assertEquals(e2e, c.number("exported W2g32 checkpoint: perplexity (\\S+),"), 0, "the export scores what E2E-QP ended with");
        double grads = c.number("Block-AP gradient peak (\\d+) bytes"), block = c.number("one block's float parameters \\((\\d+) bytes\\)");
        assertTrue(grads >= block && grads < 1.2 * block, "Block-AP holds one block's gradients: " + grads + " vs " + block);
        for (int b = 1; b <= 5; b++)
            assertTrue(c.number("block-ap block " + b + "/5: output MSE \\S+ \\(RTN start\\) -> (\\S+) ")
                    < c.number("block-ap block " + b + "/5: output MSE (\\S+) "), "block " + b + " output MSE falls");
        noLeak(c);
    }

    @Test
    void loqtPretrainingShowsEachPieceOfTheMethod() throws Exception {
        Captured c = Captured.run(LoQTPretraining::main, "--steps", "30");
        c.contains("[0, 100, 201, 302, 403, 505, 607, 709, 812, 916, 1021, 1127]"); // the spec's schedule
        c.contains("this run (tau 5, 30 steps): [0, 5, 11, 17, 23]");
        c.contains("P is A, the trainable factor is B [96, 8]");
        // training the factor lowers the loss
        assertTrue(c.number("train B: step 60  loss (\\S+)") < 0.5 * c.number("train B: step  1  loss (\\S+)"));
        // the second update step: compensation lowers ‖W_fp − (deq(Q) + s·B·A)‖ below plain requantization (C = 0)
        double plain = c.number("(?s)update step 1 .*?\\|W_fp - deq\\(Q'\\)\\|_F = (\\S+)");
        double kept = c.number("(?s)update step 1 .*?now \\|W_fp - \\(deq\\(Q\\) \\+ s\\*B\\*A\\)\\|_F = ([0-9.]+)");
        assertTrue(kept < 0.95 * plain, "compensated " + kept + " vs plain " + plain);
        assertTrue(c.number("top-8 singular values .* hold (\\S+)% of") > 50);
        assertEquals(5, c.number("loqt made (\\d+) update steps"));
        double ratio = c.number("weights \\+ optimizer states: loqt \\S+ KiB = (\\d+)% of full");
        assertTrue(ratio < 60, "LoQT's weights + optimizer states vs full: " + ratio + "%");
        assertTrue(c.number("loqt  lr \\S+  validation perplexity (\\S+)") < 400);
        noLeak(c);
    }
}
