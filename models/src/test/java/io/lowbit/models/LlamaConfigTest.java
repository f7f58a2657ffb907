package io.lowbit.models;

import io.lowbit.tensor.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class LlamaConfigTest {
    /** Meta-Llama-3.1-8B's config.json (abridged to the fields we read, values as published). */
    static final String LLAMA31_8B = """
            {"architectures": ["LlamaForCausalLM"], "bos_token_id": 128000, "eos_token_id": 128001,
             "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 131072,
             "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
             "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
             "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256}""";

    /** Mistral-7B-v0.1's config.json (abridged). */
    static final String MISTRAL_7B = """
            {"architectures": ["MistralForCausalLM"], "hidden_act": "silu", "hidden_size": 4096,
             "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
             "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
             "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false, "vocab_size": 32000}""";

    static LlamaConfig parse(String json) {
        return LlamaConfig.fromJson(Json.parseObject(json, "config.json"), "config.json");
    }

    @Test
    void readsLlama31WithLlama3RopeScaling() {
        LlamaConfig c = parse(LLAMA31_8B);
        assertEquals(4096, c.hiddenSize());
        assertEquals(8, c.numKeyValueHeads());
        assertEquals(128, c.headDim());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(RopeScaling.llama3(8, 1, 4, 8192), c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(0, c.slidingWindow());
        assertEquals(8_030_261_248L, c.parameterCount(), "Llama-3.1-8B's published parameter count");
    }

    @Test
    void llama3ScalingFollowsItsThreeRegimes() {
        RopeScaling s = RopeScaling.llama3(8, 1, 4, 8192);
        // wavelength 2π/θ below 8192/4 = 2048: unchanged
        double high = 2 * Math.PI / 1000;
        assertEquals(high, s.scale(high), 0);
        // wavelength above 8192: divided by the factor
        double low = 2 * Math.PI / 20000;
        assertEquals(low / 8, s.scale(low), 1e-18);
        // in between: (1 - s)·θ/8 + s·θ with s = (8192/λ - 1)/(4 - 1); λ = 4096 gives s = 1/3
        double mid = 2 * Math.PI / 4096;
        assertEquals((2.0 / 3) * mid / 8 + (1.0 / 3) * mid, s.scale(mid), 1e-15);
        assertEquals(0.25, RopeScaling.linear(4).scale(1.0));
    }

    @Test
    void readsMistralSlidingWindowAndWritesItBack(@TempDir Path dir) throws Exception {
        LlamaConfig c = parse(MISTRAL_7B);
        assertEquals(4096, c.slidingWindow());
        assertEquals(Presets.get("mistral-7b"), c);
        Path f = dir.resolve("config.json");
        c.write(f);
        assertEquals(c, LlamaConfig.read(f));
        LlamaConfig l3 = parse(LLAMA31_8B);
        l3.write(f);
        assertEquals(l3, LlamaConfig.read(f));
        Object raw = Json.parseObject(Files.readString(f), "x").get("rope_scaling");
        assertTrue(raw.toString().contains("llama3"), raw.toString());
    }

    @Test
    void defaultsWhenOptionalKeysAreAbsent() {
        LlamaConfig c = parse("""
                {"hidden_size": 64, "intermediate_size": 172, "num_attention_heads": 8, "num_hidden_layers": 5, "vocab_size": 512}""");
        assertEquals(8, c.numKeyValueHeads());
        assertEquals(8, c.headDim());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(10000, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
    }

    static void rejects(String json, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(json));
        assertTrue(e.getMessage().contains("config.json"), "names the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' missing from: " + e.getMessage());
    }

    @Test
    void badConfigsNameTheKeyAndFile() {
        String base = "\"intermediate_size\": 172, \"num_hidden_layers\": 5, \"vocab_size\": 512";
        rejects("{" + base + ", \"num_attention_heads\": 8}", "hidden_size", "missing");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 0}", "num_attention_heads");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 7}", "num_attention_heads (7) does not divide hidden_size (64)");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"num_key_value_heads\": 3}",
                "num_key_value_heads (3) must divide num_attention_heads (8)");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"num_key_value_heads\": 16}", "num_key_value_heads");
        rejects("{" + base + ", \"hidden_size\": 99999999999, \"num_attention_heads\": 8}", "hidden_size");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"rms_norm_eps\": 0}", "rms_norm_eps");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"hidden_act\": \"gelu\"}", "hidden_act");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}",
                "rope_scaling.rope_type", "yarn");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}",
                "rope_scaling.low_freq_factor");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"vocab_size\": \"big\"}", "vocab_size");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"sliding_window\": -1}", "sliding_window");
        rejects("{" + base + ", \"hidden_size\": 64, \"num_attention_heads\": 8, \"tie_word_embeddings\": 1}", "tie_word_embeddings");
    }

    @Test
    void presetsHaveThePublishedShapes() {
        assertEquals(6_738_415_616L, Presets.get("llama-2-7b").parameterCount(), "Llama-2-7B's parameter count");
        assertEquals(7_241_732_096L, Presets.get("mistral-7b").parameterCount(), "Mistral-7B's parameter count");
        LlamaConfig m60 = Presets.get("60M");
        assertEquals(512, m60.hiddenSize());
        assertEquals(1376, m60.intermediateSize());
        assertEquals(32000, m60.vocabSize());
        assertEquals(1e-6, m60.rmsNormEps());
        assertEquals(5461, Presets.get("1b").intermediateSize());
        assertEquals(40, Presets.get("13B").numHiddenLayers());
        LlamaConfig small = Presets.get("small");
        assertEquals(256, small.hiddenSize());
        assertEquals(4, small.numHiddenLayers());
        assertEquals(8, small.numAttentionHeads());
        assertEquals(4, small.numKeyValueHeads());
        assertEquals(688, small.intermediateSize());
        assertEquals(2048, small.vocabSize());
        assertEquals(256, small.maxPositionEmbeddings());
        assertEquals(64, Presets.get("tiny").hiddenSize());
        assertEquals(384, Presets.get("medium").hiddenSize());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Presets.get("70B"));
        assertTrue(e.getMessage().contains("known: 60M"), e.getMessage());
    }
}
