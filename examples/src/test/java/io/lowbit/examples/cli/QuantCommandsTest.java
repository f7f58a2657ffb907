package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.examples.cli.GenerateConvertBenchCommandTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** quantize / eval / quant-table end to end on the real stories260K checkpoint. */
class QuantCommandsTest {
    private static double ppl(String out) {
        Matcher m = Pattern.compile("perplexity ([0-9.]+)").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void quantizeThenEvalAndGenerateFromTheQuantizedDirectory(@TempDir Path dir) throws Exception {
        String ckpt = GenerateConvertBenchCommandTest.stories().toString();
        Run gen = GenerateConvertBenchCommandTest.run("generate", "--checkpoint", ckpt, "--max-tokens", "120", "--seed", "3", "--print-ids");
        assertEquals(0, gen.code(), gen.err());
        Path ids = dir.resolve("held.ids");
        Files.writeString(ids, gen.out());
        Run fp = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", ckpt, "--data", ids.toString());
        assertEquals(0, fp.code(), fp.err());
        assertTrue(fp.out().contains("(float)"), fp.out());
        // the float model's greedy ids through the quantized-model runner equal llama2.c's run.c
        Run greedy = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", ckpt, "--generate", "20", "--temperature", "0");
        assertEquals(GenerateConvertBenchCommandTest.FIRST_20, greedy.out().strip());
        java.util.Map<String, Double> ppls = new java.util.HashMap<>();
        for (String[] m : new String[][] {{"rtn", "8", "32"}, {"nf4", "4", "-1"}, {"gptq", "4", "32"}}) {
            Path out = dir.resolve(m[0] + m[1]);
            Run q = GenerateConvertBenchCommandTest.run("quantize", "--checkpoint", ckpt, "--method", m[0], "--bits", m[1], "--group", m[2],
                    "--calib-tokens", "256", "--out", out.toString());
            assertEquals(0, q.code(), q.err());
            assertTrue(Files.exists(out.resolve("model.safetensors")) && Files.readString(out.resolve("config.json")).contains("quantization_config"));
            Run ev = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", out.toString(), "--data", ids.toString(), "--generate", "10");
            assertEquals(0, ev.code(), ev.err());
            assertTrue(ev.out().contains("(quantized)"), ev.out());
            assertTrue(ppl(ev.out()) >= ppl(fp.out()) * 0.98, m[0] + ": quantized perplexity " + ppl(ev.out()) + " vs float " + ppl(fp.out()));
            ppls.put(m[0], ppl(ev.out()));
            // generate runs the quantized directory too, and its greedy ids are eval's greedy ids
            Run qGreedy = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", out.toString(), "--generate", "12", "--temperature", "0");
            Run qGen = GenerateConvertBenchCommandTest.run("generate", "--checkpoint", out.toString(), "--max-tokens", "12", "--temperature", "0", "--print-ids");
            assertEquals(0, qGen.code(), qGen.err());
            assertEquals(qGreedy.out().strip(), qGen.out().strip(), m[0] + ": generate vs eval --generate on the quantized directory");
        }
        // 8 bits lose less than 4 (stories260K has large in-group outliers: even 8-bit g32 costs a few percent)
        assertTrue(ppls.get("rtn") < ppls.get("nf4") && ppls.get("rtn") < ppls.get("gptq"), ppls.toString());
        assertTrue(ppls.get("rtn") < 1.15 * ppl(fp.out()), ppls + " vs float " + ppl(fp.out()));
    }

    @Test
    void quantTablePrintsEveryMethodAndBadInputIsAClearError(@TempDir Path dir) {
        String ckpt = GenerateConvertBenchCommandTest.stories().toString();
        Run t = GenerateConvertBenchCommandTest.run("quant-table", "--checkpoint", ckpt, "--bits", "4", "--group", "32", "--calib-tokens", "256",
                "--eval-tokens", "256", "--plot", dir.resolve("kl.png").toString());
        assertEquals(0, t.code(), t.err());
        for (String m : new String[] {"fp32", "rtn", "gptq", "nf4"}) assertTrue(t.out().contains("\n" + m), t.out());
        assertTrue(Files.exists(dir.resolve("kl.png")));
        Run bad = GenerateConvertBenchCommandTest.run("quantize", "--checkpoint", ckpt, "--method", "nf4", "--bits", "3", "--out", dir.resolve("x").toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("nf4 is a 4-bit format"), bad.err());
        Run unknown = GenerateConvertBenchCommandTest.run("quantize", "--checkpoint", ckpt, "--method", "awq", "--out", dir.resolve("y").toString());
        assertTrue(unknown.err().contains("unknown quantization method 'awq'"), unknown.err());
    }
}
