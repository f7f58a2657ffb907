package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Quantized checkpoints of the real stories260K model round-trip bit-exactly; tampering gives named errors. */
@ExtendWith(NoLeaks.class)
class QuantizedCheckpointTest {
    private static byte[] bytes(Tensor t) {
        Tensor c = t.contiguous();
        byte[] b = c.segment().asSlice(c.byteOffset(), c.numel() * c.dtype().bytes).toArray(ValueLayout.JAVA_BYTE);
        if (c != t) c.close();
        return b;
    }

    private static void assertSame(QuantizedLlama a, QuantizedLlama b, String what) {
        assertEquals(a.ropeLayout(), b.ropeLayout());
        assertArrayEquals(bytes(a.tokEmbeddings()), bytes(b.tokEmbeddings()), what + ": embeddings");
        assertArrayEquals(bytes(a.norm()), bytes(b.norm()), what + ": norm");
        for (int l = 0; l < a.config().numHiddenLayers(); l++) {
            assertArrayEquals(bytes(a.attnNorm(l)), bytes(b.attnNorm(l)));
            assertArrayEquals(bytes(a.ffnNorm(l)), bytes(b.ffnNorm(l)));
            for (int s = 0; s < 7; s++) {
                QuantizedTensor x = ((LinearWeight.Packed) a.linear(l, s)).q(), y = ((LinearWeight.Packed) b.linear(l, s)).q();
                assertEquals(x.quantizationConfig(), y.quantizationConfig(), what + " " + QuantizedLlama.linearName(l, s));
                Map<String, Tensor> cx = x.components(), cy = y.components();
                assertEquals(cx.keySet(), cy.keySet());
                for (String k : cx.keySet())
                    assertArrayEquals(bytes(cx.get(k)), bytes(cy.get(k)), what + " " + QuantizedLlama.linearName(l, s) + "." + k);
            }
        }
    }

    private static void roundTrip(LlamaWeights w, Supplier<Quantizer> method, int[][] calib, Path dir, String what) throws Exception {
        try (QuantizedLlama q = ModelQuantizer.quantize(w, method, calib, null)) {
            QuantizedCheckpoint.write(dir, q);
            assertTrue(QuantizedCheckpoint.isQuantized(dir));
            try (QuantizedLlama back = QuantizedCheckpoint.read(dir); LlamaModel r1 = new LlamaModel(q, 32, 32);
                 LlamaModel r2 = new LlamaModel(back, 32, 32)) {
                assertSame(q, back, what);
                int[] toks = {1, 40, 300, 7, 99, 250, 3, 17};
                int vocab = q.config().vocabSize();
                float[] a = new float[toks.length * vocab], b = new float[toks.length * vocab];
                r1.forwardAll(toks, 0, a);
                r2.forwardAll(toks, 0, b);
                assertArrayEquals(a, b, what + ": logits of the reloaded model");
            }
        }
    }

    @Test
    void rtnAllBitWidthsPerChannelAndGroup64RoundTripBitExactly(@TempDir Path tmp) throws Exception {
        try (LlamaWeights w = QuantizedInferenceTest.stories()) {
            for (int bits : new int[] {2, 3, 4, 8}) {
                roundTrip(w, () -> new AffineQuantizer(AffineSpec.perChannel(bits, false)), null, tmp.resolve("rtn" + bits + "c"), "RTN " + bits + "-bit per-channel");
                roundTrip(w, () -> new AffineQuantizer(AffineSpec.perGroup(bits, false, 64)), null, tmp.resolve("rtn" + bits + "g"), "RTN " + bits + "-bit g64");
            }
            roundTrip(w, () -> new AffineQuantizer(AffineSpec.perGroup(4, true, 64)), null, tmp.resolve("sym"), "RTN 4-bit symmetric g64");
        }
    }

    @Test
    void nf4AndGptqActOrderRoundTripBitExactly(@TempDir Path tmp) throws Exception {
        try (LlamaWeights w = QuantizedInferenceTest.stories(); QuantizedLlama fp = QuantizedLlama.dense(w); LlamaModel run = new LlamaModel(fp, 64, 64)) {
            roundTrip(w, Nf4Quantizer::new, null, tmp.resolve("nf4"), "NF4 + double quant");
            int[][] calib = QuantEval.sample(run, 4, 64, 3);
            Gptq.Config cfg = Gptq.Config.defaults(3).withGroupSize(32).withActOrder(true);
            roundTrip(w, () -> new Gptq(cfg), calib, tmp.resolve("gptq"), "GPTQ 3-bit g32 act-order");
            try (QuantizedLlama back = QuantizedCheckpoint.read(tmp.resolve("gptq"))) {
                assertTrue(((LinearWeight.Packed) back.linear(0, 0)).q().components().containsKey("g_idx"), "act-order keeps g_idx");
            }
        }
    }

    @Test
    void mismatchesNameTheTensorAndTheField(@TempDir Path tmp) throws Exception {
        long live = Allocator.liveBytes();
        Path dir = tmp.resolve("q");
        try (LlamaWeights w = QuantizedInferenceTest.stories(); QuantizedLlama q = ModelQuantizer.quantize(w, () -> new AffineQuantizer(AffineSpec.perChannel(4, false)), null, null)) {
            QuantizedCheckpoint.write(dir, q);
        }
        Path cfg = dir.resolve("config.json");
        String original = Files.readString(cfg);
        assertTrue(original.contains("\"quantization_config\""), original);
        Files.writeString(cfg, original.replace("\"bits\": \"4\"", "\"bits\": \"3\""));
        var e = assertThrows(IllegalArgumentException.class, () -> QuantizedCheckpoint.read(dir));
        assertTrue(e.getMessage().contains("'bits'"), e.getMessage());
        Files.writeString(cfg, original.replace("\"hidden_size\": 64", "\"hidden_size\": 32"));
        e = assertThrows(IllegalArgumentException.class, () -> QuantizedCheckpoint.read(dir));
        assertTrue(e.getMessage().contains("model.embed_tokens.weight") || e.getMessage().contains("q_proj"), e.getMessage());
        Files.writeString(cfg, original);
        try (QuantizedLlama ok = QuantizedCheckpoint.read(dir)) {
            assertEquals(4, ((LinearWeight.Packed) ok.linear(0, 0)).q().bits());
        }
        assertEquals(live, Allocator.liveBytes(), "a failed load must free what it read");
    }
}
