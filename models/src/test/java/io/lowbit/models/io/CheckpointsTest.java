package io.lowbit.models.io;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.RopeScaling;
import io.lowbit.models.TestAssets;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.Safetensors;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

@ExtendWith(NoLeaks.class)
class CheckpointsTest {
    static void assertSameWeights(LlamaWeights a, LlamaWeights b) {
        assertEquals(a.config(), b.config());
        List<Tensor> ta = a.tensors(), tb = b.tensors();
        assertEquals(ta.size(), tb.size());
        for (int i = 0; i < ta.size(); i++) assertArrayEquals(ta.get(i).toFloatArray(), tb.get(i).toFloatArray(), "tensor " + i);
    }

    @Test
    void llama2cRoundTripTiedAndUntied(@TempDir Path dir) throws Exception {
        for (boolean tied : new boolean[] {true, false}) {
            LlamaConfig c = LlamaConfig.of(24, 17, 3, 1, 2, 11, 9, 1e-5, 10000, tied);
            Path f = dir.resolve("m" + tied + ".bin");
            try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 4)) {
                Llama2cCheckpoint.write(f, w);
                assertEquals(Llama2cCheckpoint.fileSize(c), Files.size(f));
                try (LlamaWeights r = Llama2cCheckpoint.read(f)) {
                    assertSameWeights(w, r);
                    assertEquals(tied, r.lmHead() == r.tokEmbeddings());
                }
            }
            // vocab_size is stored negative when the classifier is separate
            ByteBuffer h = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(tied ? 11 : -11, h.getInt(20));
        }
    }

    static Path withHeader(Path dir, int[] header, long totalBytes) throws Exception {
        ByteBuffer b = ByteBuffer.allocate((int) Math.max(28, totalBytes)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : header) b.putInt(v);
        Path f = dir.resolve("bad.bin");
        Files.write(f, b.array());
        return f;
    }

    @Test
    void hostileLlama2cFilesNameTheFileAndField(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("short.bin"), new byte[10]);
        Exception e = assertThrows(Exception.class, () -> Llama2cCheckpoint.read(dir.resolve("short.bin")));
        assertTrue(e.getMessage().contains("short.bin") && e.getMessage().contains("truncated"), e.getMessage());
        String[][] cases = {
                {"-64,172,5,8,4,512,512", "dim = -64"},
                {"64,172,0,8,4,512,512", "n_layers = 0"},
                {"64,172,5,8,4,0,512", "vocab_size = 0"},
                {"64,172,5,8,4,512,2000000000", "seq_len = 2000000000"},
                {"64,172,5,7,7,512,512", "n_heads = 7 does not divide dim = 64"},
                {"64,172,5,8,3,512,512", "n_kv_heads = 3 does not divide n_heads = 8"},
        };
        for (String[] cs : cases) {
            int[] h = java.util.Arrays.stream(cs[0].split(",")).mapToInt(Integer::parseInt).toArray();
            Path f = withHeader(dir, h, 28);
            e = assertThrows(Exception.class, () -> Llama2cCheckpoint.read(f));
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains(cs[1]), e.getMessage());
        }
        // a valid header over a truncated body
        Path f = withHeader(dir, new int[] {64, 172, 5, 8, 4, 512, 512}, 1000);
        e = assertThrows(Exception.class, () -> Llama2cCheckpoint.read(f));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("1056540"), e.getMessage());
    }

    @Test
    void stories260KSurvivesBinToHfToBinExactly(@TempDir Path dir) throws Exception {
        Path bin = TestAssets.file("models/stories260K/stories260K.bin");
        try (LlamaWeights w = Llama2cCheckpoint.read(bin)) {
            HfCheckpoint.write(dir.resolve("hf"), w);
            try (LlamaWeights hf = HfCheckpoint.read(dir.resolve("hf"))) {
                assertEquals(RopeLayout.HALF, hf.ropeLayout());
                assertTrue(hf.config().tieWordEmbeddings());
                // undo the permutation and write llama2.c again: byte-identical to the shipped file
                List<LlamaWeights.Layer> layers = new java.util.ArrayList<>();
                List<Tensor> made = new java.util.ArrayList<>();
                for (LlamaWeights.Layer l : hf.layers()) {
                    Tensor q = QkPermutation.hfToMeta(l.wq(), 8), k = QkPermutation.hfToMeta(l.wk(), 4);
                    made.add(q);
                    made.add(k);
                    layers.add(new LlamaWeights.Layer(l.attnNorm(), q, k, l.wv(), l.wo(), l.ffnNorm(), l.w1(), l.w2(), l.w3()));
                }
                LlamaWeights meta = new LlamaWeights(hf.config().withMaxPositionEmbeddings(512), RopeLayout.INTERLEAVED,
                        hf.tokEmbeddings(), layers, hf.norm(), hf.lmHead());
                assertEquals(w.config().withMaxPositionEmbeddings(512), meta.config());
                for (int i = 0; i < 5; i++)
                    assertArrayEquals(w.layers().get(i).wq().toFloatArray(), meta.layers().get(i).wq().toFloatArray());
                Path again = dir.resolve("again.bin");
                Llama2cCheckpoint.write(again, meta);
                byte[] orig = Files.readAllBytes(bin), ours = Files.readAllBytes(again);
                assertEquals(orig.length, ours.length);
                // weights are identical; the freq_cis block (never read by run.c) may differ in the last ulp
                long freqStart = 28 + 4L * (512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172) + 64);
                for (int i = 0; i < freqStart; i++) if (orig[i] != ours[i]) fail("byte " + i + " differs");
                for (Tensor t : made) t.close();
            }
        }
    }

    @Test
    void readsBf16AndF16HuggingFaceWeightsAndChecksShapes(@TempDir Path dir) throws Exception {
        LlamaConfig c = new LlamaConfig(16, 24, 2, 1, 1, 8, 1e-6, 10000, RopeScaling.linear(2), 10, 16, false, 0);
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.HALF, 2)) {
            Map<String, Tensor> bf = new LinkedHashMap<>();
            List<Tensor> made = new java.util.ArrayList<>();
            Path f32dir = dir.resolve("f32");
            HfCheckpoint.write(f32dir, w);
            try (var st = io.lowbit.tensor.io.SafetensorsFile.open(f32dir)) {
                for (String n : st.names()) {
                    Tensor t = st.tensor(n).to(DType.BF16);
                    made.add(t);
                    bf.put(n, t);
                }
                Path bfdir = Files.createDirectory(dir.resolve("bf16"));
                Safetensors.write(bfdir.resolve("model.safetensors"), bf, Map.of("format", "pt"));
                c.write(bfdir.resolve("config.json"));
                // the same weights as F16 in a second directory
                Map<String, Tensor> half = new LinkedHashMap<>();
                for (String n : st.names()) {
                    Tensor t = st.tensor(n).to(DType.F16);
                    made.add(t);
                    half.put(n, t);
                }
                Path f16dir = Files.createDirectory(dir.resolve("f16"));
                Safetensors.write(f16dir.resolve("model.safetensors"), half, Map.of());
                c.write(f16dir.resolve("config.json"));
                try (LlamaWeights r = HfCheckpoint.read(f16dir)) {
                    float[] a = w.lmHead().toFloatArray(), b = r.lmHead().toFloatArray();
                    for (int i = 0; i < a.length; i++) assertEquals(io.lowbit.tensor.Half.fromF16(io.lowbit.tensor.Half.toF16(a[i])), b[i], 0f);
                }
                try (LlamaWeights r = HfCheckpoint.read(bfdir)) {
                    assertEquals(c, r.config());
                    float[] a = w.layers().get(0).w1().toFloatArray(), b = r.layers().get(0).w1().toFloatArray();
                    for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], Math.abs(a[i]) / 128, "bf16 keeps 8 bits");
                    for (int i = 0; i < a.length; i++) assertEquals(io.lowbit.tensor.Half.fromBF16(io.lowbit.tensor.Half.toBF16(a[i])), b[i], 0f);
                    try (LlamaModel m = new LlamaModel(r, 16)) {
                        assertEquals(10, m.forward(1, 0).length);
                    }
                }
                // a config that disagrees with the tensors is caught, naming the tensor
                c.withVocabSize(11).write(bfdir.resolve("config.json"));
                Exception e = assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.read(bfdir));
                assertTrue(e.getMessage().contains("model.embed_tokens.weight"), e.getMessage());
                // untied config without lm_head
                bf.remove("lm_head.weight");
                Safetensors.write(bfdir.resolve("model.safetensors"), bf, Map.of());
                c.write(bfdir.resolve("config.json"));
                e = assertThrows(java.io.IOException.class, () -> HfCheckpoint.read(bfdir));
                assertTrue(e.getMessage().contains("lm_head"), e.getMessage());
            } finally {
                for (Tensor t : made) t.close();
            }
        }
    }

    @Test
    void checkpointsPicksTheFormat(@TempDir Path dir) throws Exception {
        Exception e = assertThrows(java.io.IOException.class, () -> Checkpoints.load(dir.resolve("nothing")));
        assertTrue(e.getMessage().contains("nothing"));
        e = assertThrows(java.io.IOException.class, () -> Checkpoints.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }
}
