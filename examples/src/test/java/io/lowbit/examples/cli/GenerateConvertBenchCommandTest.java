package io.lowbit.examples.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The generate / convert / bench decode commands end to end on the real stories260K checkpoint. */
class GenerateConvertBenchCommandTest {
    static final String FIRST_20 = "461 461 401 401 401 461 378 455 473 456 435 299 362 409 283 264 283 452 288 13";

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            CommandLine cl = Lowbit.commandLine();
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            return new Run(code, bytes.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(old);
        }
    }

    static Path stories() {
        String shared = System.getProperty("lowbit.shared");
        assertNotNull(shared, "system property lowbit.shared is not set");
        Path f = Path.of(shared, "models/stories260K/stories260K.bin");
        assertTrue(Files.isRegularFile(f), "shared test asset missing: " + f);
        return f;
    }

    @Test
    void greedyIdsFromBinAndFromTheConvertedDirectory(@TempDir Path dir) {
        Run bin = run("generate", "--checkpoint", stories().toString(), "--temperature", "0", "--max-tokens", "20", "--print-ids");
        assertEquals(0, bin.code(), bin.err());
        assertEquals(FIRST_20, bin.out().strip());
        Run conv = run("convert", "--checkpoint", stories().toString(), "--out", dir.resolve("hf").toString());
        assertEquals(0, conv.code(), conv.err());
        assertTrue(Files.exists(dir.resolve("hf/model.safetensors")) && Files.exists(dir.resolve("hf/config.json")));
        Run hf = run("generate", "--checkpoint", dir.resolve("hf").toString(), "--temperature", "0", "--max-tokens", "20", "--print-ids");
        assertEquals(FIRST_20, hf.out().strip());
    }

    @Test
    void sampledGenerationIsSeeded() {
        String ckpt = stories().toString();
        Run a = run("generate", "--checkpoint", ckpt, "--temperature", "0.9", "--top-p", "0.9", "--seed", "5", "--max-tokens", "30", "--print-ids");
        Run b = run("generate", "--checkpoint", ckpt, "--temperature", "0.9", "--top-p", "0.9", "--seed", "5", "--max-tokens", "30", "--print-ids");
        Run c = run("generate", "--checkpoint", ckpt, "--temperature", "0.9", "--top-p", "0.9", "--seed", "6", "--max-tokens", "30", "--print-ids");
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out());
        assertTrue(a.out().strip().matches("\\d+( \\d+)*"), a.out());
    }

    @Test
    void benchDecodePrintsTokensPerSecond() {
        Run r = run("bench", "decode", "--checkpoint", stories().toString(), "--tokens", "16", "--warmup-seconds", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().strip().matches("decode tokens_per_s=\\d+\\.\\d"), r.out());
    }

    @Test
    void errorsAreClear(@TempDir Path dir) {
        Run r = run("generate", "--checkpoint", stories().toString(), "--prompt", "Once upon a time");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--prompt needs --tokenizer"), r.err());
        Path llama2Tok = stories().getParent().getParent().getParent().resolve("tokenizers/llama2/tokenizer.model");
        r = run("generate", "--checkpoint", stories().toString(), "--tokenizer", llama2Tok.toString(), "--prompt", "Hello");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("has 32000 tokens") && r.err().contains("vocabulary of 512"), r.err());
        r = run("generate", "--checkpoint", dir.resolve("missing.bin").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing.bin"), r.err());
        r = run("convert", "--checkpoint", dir.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is not a llama2.c .bin file"), r.err());
    }
}
