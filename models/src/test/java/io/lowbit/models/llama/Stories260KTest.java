package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.TestAssets;
import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.HfCheckpoint;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * karpathy's stories260K (a real trained llama2.c checkpoint): greedy generation from BOS must reproduce
 * llama2.c's run.c token for token, from the .bin file and from its Hugging Face conversion.
 */
@ExtendWith(NoLeaks.class)
class Stories260KTest {
    /**
     * run.c (karpathy/llama2.c, built with gcc -Ofast -march=native -fopenmp) on stories260K.bin with
     * {@code -t 0 -n 201}: the 200 token ids it generates after BOS (printed by a local debug print).
     */
    static final int[] RUN_C_GREEDY_200 = {461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417, 363, 416, 315, 342, 418, 424, 400, 442, 402, 303, 266, 299, 374, 466, 396, 303, 271, 362, 390, 469, 306, 469, 423, 314, 347, 305, 356, 333, 333, 333, 333, 425, 377, 354, 304, 304, 304, 304, 304, 330, 341, 382, 468, 473, 473, 402, 402, 299, 299, 483, 456, 473, 456, 473, 465, 465, 465, 341, 317, 436, 363, 454, 315, 377, 360, 408, 472, 453, 327, 316, 266, 417, 277, 299, 369, 283, 266, 417, 264, 277, 277, 277, 439, 456, 407, 407, 309, 341, 436, 330, 466, 377, 422, 436, 472, 465, 466, 407, 407, 407, 407, 407, 465, 466, 473, 330, 330, 386, 431, 304, 304, 472, 453, 380, 299, 299, 483, 475, 452, 477, 295, 412, 302, 330, 275, 377, 271, 341, 438, 452, 287, 302, 341, 438, 303, 303, 303, 283, 266, 417, 277, 277, 277, 409, 281, 303, 303, 462, 402, 402, 402, 402, 299, 299, 277, 333, 333, 333, 333, 333, 299, 299, 299, 292};

    static Path bin() {
        return TestAssets.file("models/stories260K/stories260K.bin");
    }

    static int[] greedy(LlamaWeights w, int n) {
        try (LlamaModel m = new LlamaModel(w, w.config().maxPositionEmbeddings())) {
            return Generator.generate(m, new int[] {Generator.BOS}, n, Sampler.greedy(w.config().vocabSize()), new int[] {Generator.BOS}, null);
        }
    }

    @Test
    void headerMatchesTheKnownShape() throws Exception {
        LlamaConfig c = Llama2cCheckpoint.readConfig(bin());
        assertEquals(LlamaConfig.of(64, 172, 8, 4, 5, 512, 512, 1e-5, 10000, true), c);
    }

    @Test
    void greedyFromBosReproducesRunC() throws Exception {
        assertEquals(200, RUN_C_GREEDY_200.length);
        try (LlamaWeights w = Llama2cCheckpoint.read(bin())) {
            assertArrayEquals(RUN_C_GREEDY_200, greedy(w, 200));
        }
    }

    @Test
    void convertedHuggingFaceDirectoryGeneratesTheSameIds(@TempDir Path dir) throws Exception {
        try (LlamaWeights w = Llama2cCheckpoint.read(bin())) {
            HfCheckpoint.write(dir, w);
        }
        try (LlamaWeights hf = HfCheckpoint.read(dir)) {
            assertEquals(RopeLayout.HALF, hf.ropeLayout());
            assertArrayEquals(RUN_C_GREEDY_200, greedy(hf, 200));
        }
    }

    @Test
    void incrementalDecodingEqualsOneFullForward() throws Exception {
        int[] seq = new int[65];
        seq[0] = Generator.BOS;
        System.arraycopy(RUN_C_GREEDY_200, 0, seq, 1, 64);
        try (LlamaWeights w = Llama2cCheckpoint.read(bin()); LlamaModel m = new LlamaModel(w, 128)) {
            int V = w.config().vocabSize();
            float[] all = new float[seq.length * V];
            m.forwardAll(seq, 0, all);
            for (int p = 0; p < seq.length; p++) {
                float[] step = m.forward(seq[p], p);
                for (int i = 0; i < V; i++) assertEquals(all[p * V + i], step[i], 1e-5f, "position " + p + " logit " + i);
            }
        }
    }
}
