package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.io.HfCheckpoint;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.Safetensors;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Hugging Face checkpoint directories whose tensors disagree with config.json: errors name the directory, tensor and shapes. */
@ExtendWith(NoLeaks.class)
class HfCheckpointHostileTest {
    static final LlamaConfig C = LlamaConfig.of(8, 16, 2, 1, 1, 11, 4, 1e-5, 10000, true);

    static Path valid(Path dir) throws IOException {
        try (LlamaWeights w = LlamaWeights.random(C, RopeLayout.HALF, 3)) {
            HfCheckpoint.write(dir, w);
        }
        return dir;
    }

    static void fails(Path dir, String... mustContain) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(dir).close());
        assertTrue(e.getMessage().startsWith(dir.toString()), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
    }

    /** Rewrites model.safetensors with one tensor replaced (or removed when {@code replacement} is null). */
    static void replace(Path dir, String name, Tensor replacement) throws IOException {
        Map<String, Tensor> copies = new LinkedHashMap<>();
        try (var st = io.lowbit.tensor.io.SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            for (String n : st.names()) if (!n.equals(name)) copies.put(n, st.tensor(n).copy());
        }
        try {
            Map<String, Tensor> out = new LinkedHashMap<>(copies);
            if (replacement != null) out.put(name, replacement);
            Safetensors.write(dir.resolve("model.safetensors"), out, Map.of("format", "pt"));
        } finally {
            for (Tensor t : copies.values()) t.close();
        }
    }

    /** Regression: shape/dtype/missing-tensor errors did not name the checkpoint directory. */
    @Test
    void wrongShapeNamesDirectoryTensorAndBothShapes(@TempDir Path tmp) throws IOException {
        Path dir = valid(tmp);
        try (Tensor bad = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, 3, 8)) {
            replace(dir, "model.layers.0.self_attn.k_proj.weight", bad);
        }
        fails(dir, "'model.layers.0.self_attn.k_proj.weight'", "[3, 8]", "[4, 8]");
    }

    @Test
    void missingTensor(@TempDir Path tmp) throws IOException {
        Path dir = valid(tmp);
        replace(dir, "model.norm.weight", null);
        fails(dir, "'model.norm.weight'");
    }

    @Test
    void integerTensor(@TempDir Path tmp) throws IOException {
        Path dir = valid(tmp);
        try (Tensor bad = Tensor.empty(DType.I32, MemoryCategory.WEIGHTS, 8)) {
            replace(dir, "model.norm.weight", bad);
        }
        fails(dir, "'model.norm.weight'", "I32");
    }

    @Test
    void configDisagreeingWithTensors(@TempDir Path tmp) throws IOException {
        Path dir = valid(tmp);
        C.withVocabSize(12).write(dir.resolve("config.json"));
        fails(dir, "'model.embed_tokens.weight'", "[11, 8]", "[12, 8]");
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 8");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(dir).close());
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
    }

    @Test
    void validDirectoryLoads(@TempDir Path tmp) throws IOException {
        try (LlamaWeights w = Checkpoints.load(valid(tmp))) {
            assertEquals(C, w.config());
        }
    }
}
