package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.examples.cli.GenerateConvertBenchCommandTest.Run;
import io.lowbit.tensor.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code finetune} end to end on the real stories260K checkpoint, a few steps each. */
class FinetuneCommandTest {
    /** About 1,000 token ids sampled from stories260K (8 samples of 127 after BOS). */
    private static Path data(Path dir, String ckpt) throws Exception {
        StringBuilder ids = new StringBuilder();
        for (int s = 1; s <= 8; s++) {
            Run g = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", ckpt, "--generate", "127", "--seed", String.valueOf(s));
            assertEquals(0, g.code(), g.err());
            ids.append("1 ").append(g.out().strip()).append(' ');
        }
        Path data = dir.resolve("train.ids");
        Files.writeString(data, ids.toString());
        return data;
    }

    @Test
    void moduloraOverGptqWritesAdaptersAndAMergedCheckpointThatEvalLoads(@TempDir Path dir) throws Exception {
        String ckpt = GenerateConvertBenchCommandTest.stories().toString();
        Path data = data(dir, ckpt), out = dir.resolve("ft");
        Run ft = GenerateConvertBenchCommandTest.run("finetune", "--method", "modulora", "--quantizer", "gptq", "--bits", "3", "--group", "32",
                "--calib", "4", "--checkpoint", ckpt, "--data", data.toString(), "--seq", "16", "--steps", "4", "--batch", "2", "--out", out.toString());
        assertEquals(0, ft.code(), ft.err());
        assertTrue(ft.out().contains("base gptq 3-bit g32"), ft.out());
        assertTrue(ft.out().matches("(?s).*validation perplexity [0-9.]+ -> [0-9.]+ after 4 steps.*"), ft.out());
        for (String c : new String[] {"weights", "quantized", "adapters", "gradients", "optimizer", "activations", "scratch"})
            assertTrue(ft.out().contains("  " + c), c + " missing from the memory report:\n" + ft.out());
        for (String f : new String[] {"adapter_model.safetensors", "adapter_config.json", "model.safetensors", "config.json", "finetune.json",
                "metrics.csv", "loss.png", "checkpoint/trainer.json"})
            assertTrue(Files.exists(out.resolve(f)), f + " missing");
        Map<String, Object> cfg = Json.parseObject(Files.readString(out.resolve("adapter_config.json")), "adapter_config.json");
        assertEquals("LORA", cfg.get("peft_type"));
        Map<String, Object> res = Json.parseObject(Files.readString(out.resolve("finetune.json")), "finetune.json");
        assertTrue(((Number) res.get("val_ppl_after")).doubleValue() > 1);
        // the merged directory is an ordinary float checkpoint
        Run ev = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", out.toString(), "--data", data.toString());
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.out().contains("(float)"), ev.out());
        // resuming a finished run continues from its checkpoint and trains no further step
        Run again = GenerateConvertBenchCommandTest.run("finetune", "--method", "modulora", "--quantizer", "gptq", "--bits", "3", "--group", "32",
                "--calib", "4", "--checkpoint", ckpt, "--data", data.toString(), "--seq", "16", "--steps", "4", "--batch", "2", "--out", out.toString(), "--resume");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("resumed modulora") && again.out().contains("at resumed step 4"), again.out());
    }

    @Test
    void qloraAndLoraRunAndBadArgumentsAreOneClearLine(@TempDir Path dir) throws Exception {
        String ckpt = GenerateConvertBenchCommandTest.stories().toString();
        Path data = data(dir, ckpt);
        for (String m : new String[] {"qlora", "lora"}) {
            Run ft = GenerateConvertBenchCommandTest.run("finetune", "--method", m, "--checkpoint", ckpt, "--data", data.toString(), "--seq", "16",
                    "--steps", "2", "--batch", "2", "--out", dir.resolve(m).toString());
            assertEquals(0, ft.code(), ft.err());
            assertTrue(Files.exists(dir.resolve(m).resolve("adapter_model.safetensors")), m);
        }
        Run bad = GenerateConvertBenchCommandTest.run("finetune", "--method", "dora", "--checkpoint", ckpt, "--data", data.toString(), "--out", dir.resolve("x").toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("unknown --method 'dora'"), bad.err());
        Run noData = GenerateConvertBenchCommandTest.run("finetune", "--checkpoint", ckpt, "--data", "no-such-corpus", "--out", dir.resolve("y").toString());
        assertEquals(1, noData.code());
        assertTrue(noData.err().contains("neither a built-in corpus"), noData.err());
    }
}
