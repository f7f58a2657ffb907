package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hostile {@code config.json} files: each fails with an IllegalArgumentException naming the file, key and value. */
class ConfigHostileTest {
    @TempDir Path tmp;

    static final String BASE = "\"hidden_size\":8,\"intermediate_size\":16,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
            + "\"num_hidden_layers\":1,\"vocab_size\":11";

    void fails(String json, String... mustContain) throws IOException {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, json);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
    }

    @Test
    void validBaseParses() throws IOException {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{" + BASE + "}");
        assertEquals(4, LlamaConfig.read(p).headDim());
    }

    @Test
    void missingKeys() throws IOException {
        fails("{\"intermediate_size\":16,\"num_attention_heads\":2,\"num_hidden_layers\":1,\"vocab_size\":11}", "hidden_size");
        fails("{\"hidden_size\":8,\"intermediate_size\":16,\"num_attention_heads\":2,\"num_hidden_layers\":1}", "vocab_size");
    }

    @Test
    void zeroOrNegativeHeads() throws IOException {
        fails("{" + BASE.replace("\"num_attention_heads\":2", "\"num_attention_heads\":0") + "}", "num_attention_heads", "0");
        fails("{" + BASE.replace("\"num_attention_heads\":2", "\"num_attention_heads\":-2") + "}", "num_attention_heads", "-2");
        fails("{" + BASE.replace("\"num_key_value_heads\":1", "\"num_key_value_heads\":0") + "}", "num_key_value_heads", "0");
    }

    @Test
    void headsNotDividing() throws IOException {
        fails("{" + BASE.replace("\"num_attention_heads\":2", "\"num_attention_heads\":3") + "}", "num_attention_heads", "3", "8");
        fails("{" + BASE.replace("\"num_key_value_heads\":1", "\"num_key_value_heads\":3") + "}", "num_key_value_heads", "3");
    }

    @Test
    void hugeDims() throws IOException {
        fails("{" + BASE.replace("\"vocab_size\":11", "\"vocab_size\":99999999999") + "}", "vocab_size", "99999999999");
        fails("{" + BASE.replace("\"vocab_size\":11", "\"vocab_size\":2000000000") + "}", "vocab_size", "2000000000");
        fails("{" + BASE.replace("\"num_hidden_layers\":1", "\"num_hidden_layers\":1e300") + "}", "num_hidden_layers");
    }

    @Test
    void wrongTypes() throws IOException {
        fails("{" + BASE.replace("\"hidden_size\":8", "\"hidden_size\":\"8\"") + "}", "hidden_size");
        fails("{" + BASE.replace("\"hidden_size\":8", "\"hidden_size\":8.5") + "}", "hidden_size");
        fails("{" + BASE + ",\"rms_norm_eps\":\"tiny\"}", "rms_norm_eps");
        fails("{" + BASE + ",\"tie_word_embeddings\":1}", "tie_word_embeddings");
        fails("{" + BASE + ",\"hidden_act\":\"gelu\"}", "hidden_act", "gelu");
        fails("[1,2]");
        fails("{" + BASE + ",\"rope_theta\":-1}", "rope_theta", "-1");
        fails("{" + BASE + ",\"rms_norm_eps\":0}", "rms_norm_eps");
    }

    @Test
    void ropeScalingMalformed() throws IOException {
        fails("{" + BASE + ",\"rope_scaling\":3}", "rope_scaling");
        fails("{" + BASE + ",\"rope_scaling\":{\"rope_type\":\"nonsense\",\"factor\":2}}", "rope_scaling", "nonsense");
        fails("{" + BASE + ",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":-2}}", "factor", "-2");
        fails("{" + BASE + ",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":\"x\"}}", "factor");
    }
}
