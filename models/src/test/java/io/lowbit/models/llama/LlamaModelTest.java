package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.RopeScaling;
import io.lowbit.models.io.QkPermutation;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoLeaks.class)
class LlamaModelTest {
    /** Odd sizes everywhere: 3 query heads sharing 1 kv head of width 12, ffn 31, vocab 33, untied, window 5, llama3 scaling. */
    static LlamaConfig gqaWindowed() {
        return new LlamaConfig(36, 31, 3, 1, 2, 12, 1e-5, 10000, RopeScaling.llama3(8, 1, 4, 16), 33, 40, false, 5);
    }

    /** Plain multi-head attention, tied head, head width 14 (7 pairs), 65-wide model. */
    static LlamaConfig tiedMha() {
        return new LlamaConfig(70, 65, 5, 5, 3, 14, 1e-6, 500000, null, 129, 40, true, 0);
    }

    static int[] tokens(int n, int vocab, long seed) {
        Rng r = new Rng(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    static void assertClose(double[] expected, float[] actual, int off, double tol, String what) {
        double scale = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[off + i], tol * Math.max(1, scale), what + " [" + i + "]");
    }

    @Test
    void fullForwardMatchesThePlainDoubleReference() {
        for (LlamaConfig c : List.of(gqaWindowed(), tiedMha()))
            for (RopeLayout layout : RopeLayout.values())
                try (LlamaWeights w = LlamaWeights.random(c, layout, 3); LlamaModel m = new LlamaModel(w, 40)) {
                    int[] toks = tokens(37, c.vocabSize(), 11); // more than one chunk of 32
                    double[][] ref = ReferenceLlama.logits(w, toks);
                    float[] got = new float[toks.length * c.vocabSize()];
                    m.forwardAll(toks, 0, got);
                    for (int t = 0; t < toks.length; t++)
                        assertClose(ref[t], got, t * c.vocabSize(), 2e-5, c + " " + layout + " position " + t);
                }
    }

    @Test
    void incrementalDecodingEqualsTheFullForwardAtEveryPosition() {
        LlamaConfig c = gqaWindowed();
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.HALF, 5); LlamaModel m = new LlamaModel(w, 40)) {
            int[] toks = tokens(39, c.vocabSize(), 2);
            int V = c.vocabSize();
            float[] full = new float[toks.length * V];
            m.forwardAll(toks, 0, full);
            for (int p = 0; p < toks.length; p++) {
                float[] step = m.forward(toks[p], p);
                for (int i = 0; i < V; i++) assertEquals(full[p * V + i], step[i], 1e-6f, "position " + p);
            }
            // a prefill of the first 35 then decoding the rest lands on the same last logits
            int[] head = java.util.Arrays.copyOf(toks, 35);
            m.prefill(head, 0);
            float[] last = null;
            for (int p = 35; p < toks.length; p++) last = m.forward(toks[p], p);
            for (int i = 0; i < V; i++) assertEquals(full[(toks.length - 1) * V + i], last[i], 1e-6f);
        }
    }

    @Test
    void threadCountDoesNotChangeTheResult() {
        LlamaConfig c = tiedMha();
        int before = Parallel.threads();
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 8)) {
            int[] toks = tokens(33, c.vocabSize(), 4);
            float[][] out = new float[3][toks.length * c.vocabSize()];
            int[] teams = {1, 2, 3};
            for (int i = 0; i < 3; i++) {
                Parallel.setThreads(teams[i]);
                try (LlamaModel m = new LlamaModel(w, 40)) {
                    m.forwardAll(toks, 0, out[i]);
                }
            }
            assertArrayEquals(out[0], out[1]);
            assertArrayEquals(out[0], out[2]);
        } finally {
            Parallel.setThreads(before);
        }
    }

    @Test
    void spinTeamCoversEveryIndexOnceAndRethrows() {
        for (int size : new int[] {1, 2, 3}) {
            try (SpinTeam team = new SpinTeam(size)) {
                for (int trial = 0; trial < 200; trial++) {
                    int n = 1 + trial % 37;
                    java.util.concurrent.atomic.AtomicIntegerArray hits = new java.util.concurrent.atomic.AtomicIntegerArray(n);
                    team.range(n, 1, (lo, hi) -> {
                        for (long i = lo; i < hi; i++) hits.incrementAndGet((int) i);
                    });
                    for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "size " + size + " n " + n + " index " + i);
                }
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> team.range(10, 1, (lo, hi) -> {
                    if (hi == 10) throw new IllegalStateException("last chunk failed");
                }));
                assertEquals("last chunk failed", e.getMessage());
                // still usable afterwards
                long[] sum = new long[1];
                team.range(4, 4, (lo, hi) -> sum[0] += hi - lo);
                assertEquals(4, sum[0]);
            }
        }
    }

    @Test
    void permutedQkInRotateHalfLayoutIsTheSameModel() {
        LlamaConfig c = gqaWindowed();
        try (LlamaWeights meta = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 9)) {
            List<Tensor> made = new ArrayList<>();
            List<LlamaWeights.Layer> layers = new ArrayList<>();
            for (LlamaWeights.Layer l : meta.layers()) {
                Tensor q = QkPermutation.metaToHf(l.wq(), c.numAttentionHeads()), k = QkPermutation.metaToHf(l.wk(), c.numKeyValueHeads());
                made.add(q);
                made.add(k);
                layers.add(new LlamaWeights.Layer(l.attnNorm(), q, k, l.wv(), l.wo(), l.ffnNorm(), l.w1(), l.w2(), l.w3()));
            }
            LlamaWeights hf = new LlamaWeights(c, RopeLayout.HALF, meta.tokEmbeddings(), layers, meta.norm(), meta.lmHead());
            int[] toks = tokens(12, c.vocabSize(), 1);
            int V = c.vocabSize();
            float[] a = new float[toks.length * V], b = a.clone();
            try (LlamaModel m1 = new LlamaModel(meta, 40); LlamaModel m2 = new LlamaModel(hf, 40)) {
                m1.forwardAll(toks, 0, a);
                m2.forwardAll(toks, 0, b);
            }
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5f, "logit " + i);
            // the inverse permutation restores the original rows exactly
            for (int i = 0; i < c.numHiddenLayers(); i++)
                try (Tensor back = QkPermutation.hfToMeta(layers.get(i).wq(), c.numAttentionHeads())) {
                    assertArrayEquals(meta.layers().get(i).wq().toFloatArray(), back.toFloatArray());
                }
            for (Tensor t : made) t.close();
        }
    }

    @Test
    void permutationMovesRowsAsTheHuggingFaceScriptDoes() {
        // 2 heads of width 4, 1 column: Meta rows 0..7 -> HF order per head [0,2,1,3]
        float[] rows = {0, 1, 2, 3, 4, 5, 6, 7};
        try (Tensor w = Tensor.of(rows, 8, 1); Tensor hf = QkPermutation.metaToHf(w, 2)) {
            assertArrayEquals(new float[] {0, 2, 1, 3, 4, 6, 5, 7}, hf.toFloatArray());
        }
        try (Tensor w = Tensor.of(new float[12], 6, 2)) {
            assertThrows(IllegalArgumentException.class, () -> QkPermutation.metaToHf(w, 2)); // head width 3 is odd
        }
    }

    @Test
    void badTokensAndPositionsAreRejected() {
        LlamaConfig c = tiedMha();
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 1); LlamaModel m = new LlamaModel(w, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(129, 0));
            assertTrue(e.getMessage().contains("129"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(-1, 0));
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(3, 8));
            assertTrue(e.getMessage().contains("KV cache of 8"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.prefill(new int[9], 0));
            assertThrows(IllegalArgumentException.class, () -> new LlamaModel(w, 41));
        }
    }

    @Test
    void weightsWithWrongShapesAreRejectedByName() {
        LlamaConfig c = tiedMha();
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 1)) {
            List<LlamaWeights.Layer> layers = new ArrayList<>(w.layers());
            LlamaWeights.Layer l = layers.get(1);
            try (Tensor wrong = Tensor.zeros(io.lowbit.tensor.DType.F32, 70, 70)) { // gate_proj must be [65, 70]
                layers.set(1, new LlamaWeights.Layer(l.attnNorm(), l.wq(), l.wk(), l.wv(), l.wo(), l.ffnNorm(), wrong, l.w2(), l.w3()));
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> new LlamaWeights(c, RopeLayout.INTERLEAVED, w.tokEmbeddings(), layers, w.norm(), w.lmHead()));
                assertTrue(e.getMessage().contains("layers.1.gate_proj"), e.getMessage());
            }
        }
    }
}
