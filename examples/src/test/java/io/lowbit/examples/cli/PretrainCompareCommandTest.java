package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.tensor.testing.NoLeaks;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** pretrain / compare / bench train end to end on a slice of the built-in corpus with the tiny preset. */
@ExtendWith(NoLeaks.class)
class PretrainCompareCommandTest {
    private static Path text(Path dir) throws Exception {
        Path f = dir.resolve("corpus.txt");
        Files.writeString(f, TokenizedCorpus.builtInText().substring(20000, 60000), StandardCharsets.UTF_8);
        return f;
    }

    private static final String[] SMALL = {"--preset", "tiny", "--vocab", "300", "--seq", "32", "--batch", "2", "--eval-windows", "4"};

    private static String[] args(String[] head, String... tail) {
        String[] all = new String[head.length + SMALL.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(SMALL, 0, all, head.length, SMALL.length);
        System.arraycopy(tail, 0, all, head.length + SMALL.length, tail.length);
        return all;
    }

    @Test
    void pretrainWritesALoadableCheckpointAndResumes(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run");
        var r = GenerateConvertBenchCommandTest.run(args(new String[] {"pretrain", "--method", "full", "--data", text(dir).toString(), "--out", out.toString(), "--steps", "4"}));
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("perplexity"), r.out());
        assertTrue(r.out().contains("optimizer") && r.out().contains("activations"), "memory breakdown: " + r.out());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "tokens.bin", "metrics.csv", "loss.png", "checkpoint/trainer.json"})
            assertTrue(Files.exists(out.resolve(f)), f);
        try (LlamaWeights w = Checkpoints.load(out)) {
            assertEquals(300, w.config().vocabSize());
            assertEquals(64, w.config().hiddenSize());
        }
        HfBpeTokenizer tok = HfBpeTokenizer.load(out.resolve("tokenizer.json"));
        assertEquals(300, tok.vocabSize());
        // a longer run resumes from step 4 with the cached tokenizer
        var again = GenerateConvertBenchCommandTest.run(args(new String[] {"pretrain", "--method", "full", "--data", out.getParent().resolve("corpus.txt").toString(),
                "--out", out.toString(), "--steps", "4", "--resume"}));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("reused from"), again.out());
        assertTrue(again.out().contains("resumed full"), again.out());
    }

    @Test
    void loqtIsTheDefaultAndExportsAMergedCheckpoint(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("loqt");
        var r = GenerateConvertBenchCommandTest.run(args(new String[] {"pretrain", "--data", text(dir).toString(), "--out", out.toString(),
                "--steps", "3", "--tau", "1", "--rank", "4"}));
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("pretrain loqt") && r.out().contains("quantized"), r.out());
        try (LlamaWeights w = Checkpoints.load(out)) { // adapters folded into plain q/k/v/o/gate/up/down weights
            assertEquals(64, w.config().hiddenSize());
        }
    }

    @Test
    void compareTabulatesEveryMethodAndWritesJsonAndPlot(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("cmp"), json = dir.resolve("cmp.json");
        var r = GenerateConvertBenchCommandTest.run(args(new String[] {"compare", "--methods", "full", "--data", text(dir).toString(),
                "--out", out.toString(), "--steps", "3", "--json", json.toString()}));
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("val_ppl") && r.out().lines().anyMatch(l -> l.startsWith("full ")), r.out());
        assertTrue(Files.exists(out.resolve("compare-val-loss.png")));
        String js = Files.readString(json);
        assertTrue(js.contains("\"method\": \"full\"") && js.contains("\"optimizer\""), js);
        var bad = GenerateConvertBenchCommandTest.run("compare", "--methods", "nope", "--out", out.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("unknown method 'nope'"), bad.err());
        var badLr = GenerateConvertBenchCommandTest.run("compare", "--methods", "full", "--lr", "loqt=1e-2", "--out", out.toString());
        assertEquals(1, badLr.code());
        assertTrue(badLr.err().contains("--lr names method 'loqt'"), badLr.err());
    }

    @Test
    void perMethodLearningRates() {
        TrainOptions o = new TrainOptions();
        java.util.List<String> ms = java.util.List.of("full", "loqt", "lora");
        o.lr = "full=1e-3, loqt=5e-3";
        assertEquals(1e-3, o.lrFor("full", ms));
        assertEquals(5e-3, o.lrFor("loqt", ms));
        assertEquals(2e-3, o.lrFor("lora", ms), "methods not named get the default");
        o.lr = "4e-3,loqt=1e-2";
        assertEquals(4e-3, o.lrFor("full", ms));
        assertEquals(1e-2, o.lrFor("loqt", ms));
        o.lr = "3e-4";
        assertEquals(3e-4, o.lrFor("lora", ms));
        o.lr = "full=abc";
        assertTrue(assertThrows(IllegalArgumentException.class, () -> o.lrFor("full", ms)).getMessage().contains("neither a number"));
        o.lr = "full=-1";
        assertThrows(IllegalArgumentException.class, () -> o.lrFor("full", ms));
    }

    @Test
    void benchTrainPrintsTokensPerSecond() {
        var r = GenerateConvertBenchCommandTest.run("bench", "train", "--dim", "32", "--layers", "1", "--heads", "4", "--kv-heads", "2",
                "--ffn", "64", "--vocab", "64", "--seq", "16", "--batch", "2", "--steps", "2", "--warmup", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s)train tokens_per_s=[0-9.]+\\n.*"), r.out());
    }
}
