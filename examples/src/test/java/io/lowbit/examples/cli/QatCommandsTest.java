package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.examples.cli.GenerateConvertBenchCommandTest.Run;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.testing.NoLeaks;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** qat / compare-quant end to end on a tiny model pretrained here for a few steps (seconds, not minutes). */
@ExtendWith(NoLeaks.class)
class QatCommandsTest {
    @TempDir
    static Path dir;
    private static Path text, fp;
    private static final String[] SMALL = {"--seq", "32", "--batch", "2", "--eval-windows", "4"};

    @BeforeAll
    static void pretrain() throws Exception {
        text = dir.resolve("corpus.txt");
        Files.writeString(text, TokenizedCorpus.builtInText().substring(20000, 60000), StandardCharsets.UTF_8);
        fp = dir.resolve("fp");
        Run r = GenerateConvertBenchCommandTest.run("pretrain", "--method", "full", "--preset", "tiny", "--vocab", "300", "--seq", "32", "--batch", "2",
                "--eval-windows", "4", "--data", text.toString(), "--out", fp.toString(), "--steps", "6");
        assertEquals(0, r.code(), r.err() + r.out());
    }

    private static Run run(String... head) {
        String[] all = new String[head.length + SMALL.length + 4];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(SMALL, 0, all, head.length, SMALL.length);
        System.arraycopy(new String[] {"--checkpoint", fp.toString(), "--data", text.toString()}, 0, all, head.length + SMALL.length, 4);
        return GenerateConvertBenchCommandTest.run(all);
    }

    private static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(out);
        assertTrue(m.find(), "no /" + regex + "/ in:\n" + out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void qatWritesACheckpointThatEvalLoads() throws Exception {
        for (String[] m : new String[][] {{"lr-qat", "4", "-1"}, {"full-qat", "3", "32"}, {"efficientqat", "2", "32"}}) {
            Path out = dir.resolve(m[0]);
            Run q = run("qat", "--method", m[0], "--bits", m[1], "--group", m[2], "--steps", "3", "--calib", "4", "--out", out.toString());
            assertEquals(0, q.code(), q.err() + q.out());
            String name = m[0].equals("efficientqat") ? "e2e-qp" : m[0];
            // the trainer's last validation (fake-quant model) equals the exported integers' validation
            assertEquals(number(q.out(), "^" + name + " step 3 validation loss \\S+ perplexity (\\S+)$"),
                    number(q.out(), "^" + m[0] + ": validation perplexity (\\S+),"), 0.01, q.out());
            if (m[0].equals("efficientqat")) assertTrue(q.out().contains("block-ap: validation perplexity"), q.out());
            assertTrue(q.out().contains("optimizer") && q.out().contains("activations"), "memory breakdown: " + q.out());
            for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "metrics.csv", "loss.png"})
                assertTrue(Files.exists(out.resolve(f)), m[0] + ": " + f);
            String cfg = Files.readString(out.resolve("config.json"));
            assertTrue(cfg.contains("quantization_config") && cfg.contains("\"bits\": \"" + m[1] + "\""), cfg);
            Run ev = GenerateConvertBenchCommandTest.run("eval", "--checkpoint", out.toString(), "--data", text.toString(), "--generate", "5");
            assertEquals(0, ev.code(), ev.err());
            assertTrue(ev.out().contains("(quantized)"), ev.out());
        }
    }

    @Test
    void compareQuantPrintsEveryMethodAndPlots() throws Exception {
        Path out = dir.resolve("cmp");
        Run c = run("compare-quant", "--bits", "2", "--group", "32", "--methods", "rtn,gptq,lr-qat,full-qat,efficientqat", "--phis", "q4.4,int",
                "--steps", "2", "--calib", "4", "--out", out.toString());
        assertEquals(0, c.code(), c.err() + c.out());
        for (String m : List.of("fp32", "rtn", "gptq", "lr-qat-q4.4", "lr-qat-int", "full-qat", "block-ap", "efficientqat"))
            assertTrue(Pattern.compile("^" + (m.equals("fp32") ? "W32" : "W2g32") + "\\s+" + Pattern.quote(m) + "\\s+\\d", Pattern.MULTILINE).matcher(c.out()).find(),
                    m + " row:\n" + c.out());
        assertTrue(Files.size(out.resolve("compare-quant.png")) > 0);
        Map<String, Object> json = Json.parseObject(Files.readString(out.resolve("compare-quant.json")), "compare-quant.json");
        Map<String, Map<String, Object>> byMethod = new HashMap<>();
        for (Object o : (List<?>) json.get("results")) {
            @SuppressWarnings("unchecked") Map<String, Object> row = (Map<String, Object>) o;
            byMethod.put((String) row.get("method"), row);
        }
        // φ = INT4 double-packed stores Φ0 in half the bytes of Q4.4
        assertTrue(quantized(byMethod.get("lr-qat-int")) < quantized(byMethod.get("lr-qat-q4.4")), byMethod.toString());
        // merged LR-QAT and full QAT are the same integer format
        assertEquals(((Number) byMethod.get("lr-qat-q4.4").get("linear_bytes")).longValue(), ((Number) byMethod.get("full-qat").get("linear_bytes")).longValue());
    }

    private static double quantized(Map<String, Object> row) {
        return ((Number) ((Map<?, ?>) row.get("peak_bytes")).get("quantized")).doubleValue();
    }

    @Test
    void badArgumentsAreOneClearLine() throws Exception {
        Run unknown = run("qat", "--method", "awq", "--out", dir.resolve("x").toString());
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("unknown --method 'awq'"), unknown.err());
        Run phi = run("qat", "--method", "lr-qat", "--phi", "int2", "--out", dir.resolve("y").toString());
        assertTrue(phi.err().contains("unknown --phi 'int2'"), phi.err());
        Path noTok = dir.resolve("notok");
        Files.createDirectories(noTok);
        for (String f : new String[] {"config.json", "model.safetensors"}) Files.copy(fp.resolve(f), noTok.resolve(f));
        Run tok = GenerateConvertBenchCommandTest.run("qat", "--method", "lr-qat", "--checkpoint", noTok.toString(), "--out", dir.resolve("z").toString());
        assertEquals(1, tok.code());
        assertTrue(tok.err().contains("no tokenizer.json beside the checkpoint"), tok.err());
    }
}
