package io.lowbit.models.train;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizedCorpusTest {
    @Test
    void paragraphsStartWithBosAndTheCacheIsReusedOnlyForTheSameText(@TempDir Path dir) throws Exception {
        String text = TokenizedCorpus.builtInText();
        assertTrue(text.contains("Call me Ishmael"), "the built-in corpus is Moby-Dick");
        String slice = text.substring(30000, 45000);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        TokenizedCorpus a = TokenizedCorpus.prepare(slice, 300, dir, new PrintStream(log));
        assertEquals(300, a.tokenizer().vocabSize());
        assertTrue(Files.exists(dir.resolve("tokenizer.json")) && Files.exists(dir.resolve("tokens.bin")));
        long paragraphs = java.util.Arrays.stream(slice.replace("\r\n", "\n").split("\n\\s*\n")).filter(p -> !p.isBlank()).count();
        long bos = java.util.Arrays.stream(a.tokens()).filter(t -> t == a.tokenizer().bosId()).count();
        assertEquals(paragraphs, bos);
        assertEquals(a.tokenizer().bosId(), a.tokens()[0]);
        String decoded = a.tokenizer().decode(java.util.Arrays.copyOfRange(a.tokens(), 1, 40));
        assertTrue(slice.replace("\r\n", "\n").strip().startsWith(decoded.strip().substring(0, 20)), decoded);

        TokenizedCorpus b = TokenizedCorpus.prepare(slice, 300, dir, new PrintStream(log));
        assertArrayEquals(a.tokens(), b.tokens());
        assertTrue(log.toString().contains("reused from"), log.toString());

        log.reset();
        TokenizedCorpus c = TokenizedCorpus.prepare(slice + "\n\nA new paragraph.", 300, dir, new PrintStream(log));
        assertFalse(log.toString().contains("reused"), "another text is tokenized afresh");
        assertTrue(c.tokens().length > a.tokens().length);
    }

    @Test
    void tooLargeVocabularyIsAClearError(@TempDir Path dir) {
        var e = assertThrows(IllegalArgumentException.class, () -> TokenizedCorpus.prepare("ab ab ab", 1000, dir, new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("smaller vocabulary"), e.getMessage());
    }
}
