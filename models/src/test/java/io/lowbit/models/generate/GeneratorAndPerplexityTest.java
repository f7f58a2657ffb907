package io.lowbit.models.generate;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.TestAssets;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoLeaks.class)
class GeneratorAndPerplexityTest {
    static LlamaConfig small() {
        return LlamaConfig.of(32, 40, 4, 2, 2, 23, 24, 1e-5, 10000, true);
    }

    @Test
    void generationStopsAtStopTokensBudgetAndContext() {
        try (LlamaWeights w = LlamaWeights.random(small(), RopeLayout.INTERLEAVED, 1); LlamaModel m = new LlamaModel(w, 24)) {
            int[] all = Generator.generate(m, new int[] {1, 5, 6}, 100, Sampler.greedy(23), new int[0], null);
            assertEquals(22, all.length, "3 prompt positions + 21 forwards fill the 24-position cache, the last sample is free");
            List<Integer> seen = new ArrayList<>();
            int[] five = Generator.generate(m, new int[] {1, 5, 6}, 5, Sampler.greedy(23), new int[0], seen::add);
            assertArrayEquals(java.util.Arrays.copyOf(all, 5), five, "greedy is deterministic and restarts cleanly");
            assertEquals(5, seen.size());
            int stop = all[2];
            int[] cut = Generator.generate(m, new int[] {1, 5, 6}, 100, Sampler.greedy(23), new int[] {stop}, null);
            int first = 0;
            while (all[first] != stop) first++;
            assertArrayEquals(java.util.Arrays.copyOf(all, first), cut);
            // each generated token is the argmax of a full forward over prompt + previous tokens
            int[] seq = new int[3 + 4];
            System.arraycopy(new int[] {1, 5, 6}, 0, seq, 0, 3);
            System.arraycopy(all, 0, seq, 3, 4);
            float[] logits = new float[seq.length * 23];
            m.forwardAll(seq, 0, logits);
            for (int i = 0; i < 4; i++)
                assertEquals(all[i], Sampler.argmax(java.util.Arrays.copyOfRange(logits, (2 + i) * 23, (3 + i) * 23), 23));
            assertThrows(IllegalArgumentException.class, () -> Generator.generate(m, new int[0], 3, Sampler.greedy(23), new int[0], null));
        }
    }

    /** Perplexity straight from the definition: each token scored with all tokens of its window before it. */
    static double bruteForceNll(LlamaModel m, int[] tokens, int begin, int end, int firstTarget, int vocab) {
        int[] chunk = java.util.Arrays.copyOfRange(tokens, begin, end);
        float[] logits = new float[chunk.length * vocab];
        m.forwardAll(chunk, 0, logits);
        double nll = 0;
        for (int t = firstTarget; t < end; t++) {
            int row = t - 1 - begin;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[row * vocab + i]);
            for (int i = 0; i < vocab; i++) sum += Math.exp(logits[row * vocab + i] - max);
            nll -= logits[row * vocab + tokens[t]] - max - Math.log(sum);
        }
        return nll;
    }

    @Test
    void perplexityWindowsAndStride() {
        try (LlamaWeights w = LlamaWeights.random(small(), RopeLayout.INTERLEAVED, 2); LlamaModel m = new LlamaModel(w, 24)) {
            int[] toks = new int[30];
            for (int i = 0; i < toks.length; i++) toks[i] = (i * 7 + 3) % 23;
            // one window covering everything: all 29 tokens after the first
            Perplexity.Result one = Perplexity.evaluate(m, java.util.Arrays.copyOf(toks, 20), 20, 20);
            assertEquals(19, one.tokensEvaluated());
            assertEquals(1, one.windows());
            assertEquals(bruteForceNll(m, toks, 0, 20, 1, 23), one.nll(), 1e-6);
            // window 10, stride 4 over 30 tokens: windows [0,10) [4,14) ... [20,30); each new token once
            Perplexity.Result slid = Perplexity.evaluate(m, toks, 10, 4);
            assertEquals(29, slid.tokensEvaluated());
            assertEquals(6, slid.windows());
            double expect = bruteForceNll(m, toks, 0, 10, 1, 23);
            for (int b = 4; b + 10 <= 30; b += 4) expect += bruteForceNll(m, toks, b, b + 10, b + 6, 23);
            expect += bruteForceNll(m, toks, 20, 30, 30, 23);
            assertEquals(expect, slid.nll(), 1e-6);
            assertEquals(Math.exp(slid.nll() / 29), slid.perplexity(), 1e-12);
            // disjoint windows skip each window's first token
            Perplexity.Result disjoint = Perplexity.evaluate(m, toks, 10, 10);
            assertEquals(27, disjoint.tokensEvaluated());
            assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, toks, 25, 4));
            assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, toks, 10, 11));
        }
    }

    @Test
    void stories260KPredictsItsOwnGreedyTextWell() throws Exception {
        try (LlamaWeights w = Llama2cCheckpoint.read(TestAssets.file("models/stories260K/stories260K.bin"));
             LlamaModel m = new LlamaModel(w, 256)) {
            int[] greedy = Generator.generate(m, new int[] {1}, 100, Sampler.greedy(512), new int[] {1}, null);
            int[] text = new int[101];
            text[0] = 1;
            System.arraycopy(greedy, 0, text, 1, 100);
            double own = Perplexity.evaluate(m, text, 101, 101).perplexity();
            int[] shuffled = text.clone();
            for (int i = 1; i < shuffled.length; i++) shuffled[i] = (text[i] * 37 + 11) % 512;
            double noise = Perplexity.evaluate(m, shuffled, 101, 101).perplexity();
            assertTrue(own < 10 && noise > 10 * own, "own greedy text ppl " + own + " vs scrambled " + noise);
        }
    }
}
