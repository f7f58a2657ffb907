package io.lowbit.models.nn;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.io.HfCheckpoint;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.SafetensorsFile;
import io.lowbit.tensor.testing.NoLeaks;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(NoLeaks.class)
class LlamaForCausalLMTest {
    /** d 8, ffn 12, 2 query heads over 1 kv head (GQA), 2 layers, vocab 11. */
    private static LlamaConfig tiny(boolean tied, int window) {
        return LlamaConfig.of(8, 12, 2, 1, 2, 11, 16, 1e-5, 10000, tied).withSlidingWindow(window);
    }

    private static Tensor ids(int batch, int seq, int vocab, long seed) {
        Rng r = new Rng(seed);
        int[] a = new int[batch * seq];
        for (int i = 0; i < a.length; i++) a[i] = r.nextInt(vocab);
        return Tensor.of(a, batch, seq);
    }

    @Test
    void stateDictKeysAreHuggingFaceNames() {
        for (boolean tied : new boolean[] {true, false}) {
            LlamaConfig c = tiny(tied, 0);
            try (LlamaForCausalLM m = new LlamaForCausalLM(c, 1)) {
                List<String> want = new ArrayList<>(List.of("model.embed_tokens.weight"));
                for (int i = 0; i < 2; i++) {
                    String p = "model.layers." + i + ".";
                    want.addAll(List.of(p + "input_layernorm.weight", p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                            p + "self_attn.v_proj.weight", p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
                            p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"));
                }
                want.add("model.norm.weight");
                if (!tied) want.add("lm_head.weight");
                Map<String, Tensor> sd = m.stateDict();
                assertEquals(want, new ArrayList<>(sd.keySet()));
                assertEquals(new java.util.HashSet<>(want), new java.util.HashSet<>(m.hfNames()));
                assertArrayEquals(new int[] {4, 8}, sd.get("model.layers.1.self_attn.k_proj.weight").shape());
                assertArrayEquals(new int[] {8, 12}, sd.get("model.layers.0.mlp.down_proj.weight").shape());
                assertEquals(c.parameterCount(), m.numParameters());
                // init: norms are ones, linears have std near 0.02 and mean near 0
                assertEquals(1.0, sd.get("model.norm.weight").getDouble(3));
                double s = 0, s2 = 0;
                Tensor e = sd.get("model.embed_tokens.weight");
                for (long i = 0; i < e.numel(); i++) { s += e.getDouble(i); s2 += e.getDouble(i) * e.getDouble(i); }
                double n = e.numel(), std = Math.sqrt(s2 / n - (s / n) * (s / n));
                assertEquals(0.02, std, 0.006, "embedding std");
            }
        }
    }

    @Test
    void initIsSeeded() {
        try (LlamaForCausalLM a = new LlamaForCausalLM(tiny(false, 0), 5); LlamaForCausalLM b = new LlamaForCausalLM(tiny(false, 0), 5);
             LlamaForCausalLM c = new LlamaForCausalLM(tiny(false, 0), 6)) {
            Tensor wa = a.stateDict().get("model.layers.1.mlp.up_proj.weight");
            assertArrayEquals(wa.toFloatArray(), b.stateDict().get("model.layers.1.mlp.up_proj.weight").toFloatArray());
            assertNotEquals(wa.getDouble(0), c.stateDict().get("model.layers.1.mlp.up_proj.weight").getDouble(0));
        }
    }

    @Test
    void endToEndGradientsMatchFiniteDifferencesInF64() {
        for (int window : new int[] {0, 3}) {
            for (boolean ckpt : new boolean[] {false, true}) {
                LlamaConfig c = tiny(false, window);
                try (LlamaForCausalLM m = new LlamaForCausalLM(c, 3, DType.F64).gradientCheckpointing(ckpt);
                     Tensor x = ids(2, 5, 11, 7); Tensor y = ids(2, 5, 11, 8)) {
                    // larger than default weights so every path contributes visibly
                    for (Parameter p : m.parameters()) if (p.dim() == 2) p.data().mulInPlace(20);
                    Var[] params = m.parameters().toArray(new Var[0]);
                    GradCheck.Result r = GradCheck.assertGradients(in -> m.loss(x, y), 1e-6, 1e-7, 1e-5, params);
                    assertTrue(r.checked() > 1000, "checked " + r.checked());
                    GradCheck.assertGradients(in -> m.forward(x), 1e-6, 1e-7, 1e-5, params[0], params[2], params[5]);
                }
            }
        }
    }

    @Test
    void checkpointingGivesBitIdenticalGradients() {
        LlamaConfig c = tiny(true, 0);
        try (LlamaForCausalLM a = new LlamaForCausalLM(c, 9); LlamaForCausalLM b = new LlamaForCausalLM(c, 9).gradientCheckpointing(true);
             Tensor x = ids(2, 7, 11, 1); Tensor y = ids(2, 7, 11, 2)) {
            double la, lb;
            try (MemoryScope _ = MemoryScope.open()) {
                Var l = a.loss(x, y);
                la = l.item();
                l.backwardAndRelease();
            }
            try (MemoryScope _ = MemoryScope.open()) {
                Var l = b.loss(x, y);
                lb = l.item();
                l.backwardAndRelease();
            }
            assertEquals(la, lb);
            List<Parameter> pa = a.parameters(), pb = b.parameters();
            for (int i = 0; i < pa.size(); i++) assertArrayEquals(pa.get(i).grad().toFloatArray(), pb.get(i).grad().toFloatArray());
            a.zeroGrad();
            b.zeroGrad();
        }
    }

    private static float[] inferenceLogits(LlamaWeights w, int[] tokens) {
        float[] out = new float[tokens.length * w.config().vocabSize()];
        try (LlamaModel lm = new LlamaModel(w, tokens.length)) {
            lm.forwardAll(tokens, 0, out);
        }
        return out;
    }

    private static float[] trainingLogits(LlamaForCausalLM m, int[] tokens) {
        try (MemoryScope _ = MemoryScope.open(); Tensor x = Tensor.of(tokens, 1, tokens.length)) {
            Var logits = m.forward(x);
            float[] f = logits.data().toFloatArray();
            logits.release();
            return f;
        }
    }

    private static void assertClose(float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        assertTrue(worst <= tol, "max |logit difference| " + worst);
    }

    @Test
    void trainingLogitsEqualInferenceLogitsForBothRopeLayouts() {
        // GQA (8 heads over 2 kv heads), window 5 shorter than the 14 tokens, untied and tied
        for (RopeLayout layout : RopeLayout.values()) {
            for (boolean tied : new boolean[] {false, true}) {
                LlamaConfig c = LlamaConfig.of(32, 48, 8, 2, 2, 37, 32, 1e-5, 10000, tied).withSlidingWindow(5);
                int[] tokens = new int[14];
                for (int i = 0; i < 14; i++) tokens[i] = (i * 7 + 3) % 37;
                try (LlamaWeights w = LlamaWeights.random(c, layout, 21); LlamaForCausalLM m = LlamaForCausalLM.fromWeights(w)) {
                    for (Parameter p : m.parameters()) if (p.dim() == 2) p.data().mulInPlace(10); // sharper logits
                    for (LlamaWeights.Layer l : w.layers()) for (Tensor t : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.w1(), l.w2(), l.w3())) t.mulInPlace(10);
                    w.tokEmbeddings().mulInPlace(10);
                    if (!tied) w.lmHead().mulInPlace(10);
                    float[] want = inferenceLogits(w, tokens);
                    float[] got = trainingLogits(m, tokens);
                    assertClose(want, got, 2e-3);
                    double spread = 0;
                    for (float v : want) spread = Math.max(spread, Math.abs(v));
                    assertTrue(spread > 0.5, "logits must not be trivially small: " + spread);
                    try (LlamaWeights back = m.toWeights(true)) { // and back to the inference model (rotate-half)
                        assertEquals(RopeLayout.HALF, back.ropeLayout());
                        assertClose(want, inferenceLogits(back, tokens), 2e-3);
                    }
                }
            }
        }
    }

    @Test
    void saveAndLoadRoundTripsEveryTensorExactly(@TempDir Path dir) throws Exception {
        for (boolean tied : new boolean[] {true, false}) {
            Path d = dir.resolve(tied ? "tied" : "untied");
            try (LlamaForCausalLM m = new LlamaForCausalLM(tiny(tied, 4), 13)) {
                m.save(d);
                assertTrue(HfCheckpoint.isCheckpointDir(d));
                try (SafetensorsFile st = SafetensorsFile.open(d)) {
                    assertEquals(m.stateDict().keySet(), st.names(), "the safetensors file holds exactly the state dict's names");
                }
                try (LlamaForCausalLM back = LlamaForCausalLM.load(d)) {
                    assertEquals(m.config(), back.config());
                    Map<String, Tensor> a = m.stateDict(), b = back.stateDict();
                    for (String k : a.keySet()) assertArrayEquals(a.get(k).toFloatArray(), b.get(k).toFloatArray(), k);
                }
            }
        }
    }

    @Test
    void projectionsAreReplaceableByPath() {
        LlamaConfig c = tiny(true, 0);
        try (LlamaForCausalLM m = new LlamaForCausalLM(c, 2); Tensor x = ids(1, 4, 11, 3)) {
            float[] before = trainingLogits(m, x.toIntArray());
            Linear zero = new Linear(Tensor.zeros(DType.F32, 8, 12), null);
            m.replace("model.layers.0.mlp.down_proj", zero).close();
            float[] after = trainingLogits(m, x.toIntArray());
            assertNotEquals(before[0], after[0], "the replacement is used by forward");
            try (LlamaForCausalLM ref = new LlamaForCausalLM(c, 2)) {
                ref.stateDict().get("model.layers.0.mlp.down_proj.weight").fill(0);
                assertArrayEquals(trainingLogits(ref, x.toIntArray()), after);
            }
            assertSame(zero, m.get("model.layers.0.mlp.down_proj"));
            List<String> paths = m.projectionPaths();
            assertEquals(14, paths.size());
            assertEquals("model.layers.1.self_attn.q_proj", paths.get(7));
            for (String path : paths) assertInstanceOf(io.lowbit.autograd.nn.Layer.class, m.get(path));
            // a layer with tensors beyond the HF names (an adapter) cannot be exported unmerged
            m.replace("model.layers.1.mlp.up_proj", new Adapted(new Linear(Tensor.zeros(DType.F32, 12, 8), null))).close();
            var e = assertThrows(IllegalStateException.class, () -> m.toWeights(true));
            assertTrue(e.getMessage().contains("model.layers.1.mlp.up_proj.extra"), e.getMessage());
        }
    }

    /** A stand-in adapter layer: a base linear plus one more tensor. */
    private static final class Adapted extends io.lowbit.autograd.nn.Layer {
        private final Linear base;

        Adapted(Linear base) {
            this.base = registerModule("base", base);
            registerParameter("extra", new Parameter(Tensor.zeros(DType.F32, 2)));
        }

        @Override
        public Var forward(Var x) {
            return base.forward(x);
        }
    }

    @Test
    void badInputsAreClearErrors() {
        try (LlamaForCausalLM m = new LlamaForCausalLM(tiny(true, 0), 2); Tensor f = Tensor.zeros(DType.F32, 1, 3);
             Tensor longIds = Tensor.of(new int[17], 1, 17)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> m.forward(f)).getMessage().contains("I32"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> m.forward(longIds)).getMessage().contains("max_position_embeddings"));
        }
    }
}
