package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code lowbit tokenize} end to end through the real command tree, with the real Llama-2 and Mistral files. */
@ExtendWith(NoLeaks.class)
class TokenizeCommandTest {
    static Path shared(String rel) {
        String root = System.getProperty("lowbit.shared");
        if (root == null) fail("system property lowbit.shared is not set (run with -Dlowbit.shared=/work/shared)");
        Path p = Path.of(root, rel);
        if (!Files.isRegularFile(p)) fail("missing shared test asset " + p);
        return p;
    }

    /** Runs the command line; returns {exit code, stdout, stderr}. */
    static String[] run(String... args) {
        CommandLine cl = Lowbit.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int rc = cl.execute(args);
        return new String[] {String.valueOf(rc), out.toString(), err.toString()};
    }

    @Test
    void printsIdsWithBosOnOneLine() {
        String llama = shared("tokenizers/llama2/tokenizer.model").toString();
        String[] r = run("tokenize", "--tokenizer", llama, "--text", "Hello world");
        assertEquals("0", r[0], r[2]);
        assertEquals("1 15043 3186" + System.lineSeparator(), r[1]);
        r = run("tokenize", "--tokenizer", llama, "--text", "Hello world", "--no-bos", "--eos");
        assertEquals("15043 3186 2" + System.lineSeparator(), r[1]);
        String mistralDir = shared("tokenizers/mistral/tokenizer.json").getParent().toString();
        r = run("tokenize", "--tokenizer", mistralDir, "--text", "Hello world", "--pieces");
        assertEquals("1 22557 1526" + System.lineSeparator() + "<s> ▁Hello ▁world" + System.lineSeparator(), r[1]);
        r = run("tokenize", "--tokenizer", llama, "--decode", "1,15043, 3186");
        assertEquals("Hello world" + System.lineSeparator(), r[1]);
    }

    @Test
    void badInputIsReported() {
        String[] r = run("tokenize", "--tokenizer", "/nonexistent/tok.model", "--text", "x");
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("/nonexistent/tok.model: no such tokenizer file"), r[2]);
        r = run("tokenize", "--tokenizer", shared("tokenizers/llama2/tokenizer.model").toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("give exactly one of --text or --file"), r[2]);
        r = run("tokenize", "--text", "x");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--tokenizer"), r[2]);
    }

    @Test
    void trainsWritesAndReadsBack(@TempDir Path dir) throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 400; i++) sb.append("the whale and the ship ").append(i % 7).append(" sailed on; ");
        Files.writeString(corpus, sb.toString());
        String[] r = run("tokenize", "--train", corpus.toString(), "--vocab-size", "280", "--tokenizer", dir.toString());
        assertEquals("0", r[0], r[2]);
        Path json = dir.resolve("tokenizer.json");
        assertTrue(r[1].startsWith("trained 280 tokens (21 merges) on 14401 chars"), r[1]);
        assertTrue(Files.isRegularFile(json));
        r = run("tokenize", "--tokenizer", json.toString(), "--text", "the whale", "--pieces");
        assertEquals("0", r[0], r[2]);
        String[] lines = r[1].split(System.lineSeparator());
        assertTrue(lines[0].startsWith("1 "), "BOS first: " + lines[0]);
        assertEquals("<s> the Ġwhale", lines[1]);
        r = run("tokenize", "--train", corpus.toString(), "--tokenizer", dir.resolve("tok.model").toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("give a .json file or a directory"), r[2]);
    }
}
