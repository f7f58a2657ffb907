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
    void sotuIsBuiltInAsOneAddressPerParagraphAndEncodesWithAForeignTokenizer() throws Exception {
        String text = TokenizedCorpus.builtInText("sotu");
        assertEquals(2_892_877, text.length(), "the 1945-2021 addresses as shipped");
        assertTrue(text.startsWith("To the Congress: In considering the State of the Union"), "1945, F. D. Roosevelt");
        String[] addresses = java.util.Arrays.stream(text.split("\n\\s*\n")).filter(p -> !p.isBlank()).toArray(String[]::new);
        assertEquals(79, addresses.length, "79 addresses, one per paragraph");
        assertTrue(addresses[78].strip().startsWith("Thank you. (Applause.) Thank you. Thank you. Good to be back"), "2021, J. R. Biden");
        // encoded with the Llama-2 SentencePiece model (a tokenizer we did not train): one BOS per address
        var tok = io.lowbit.models.tokenizer.SentencePieceTokenizer.load(io.lowbit.models.TestAssets.file("tokenizers/llama2/tokenizer.model"));
        String firstTwo = addresses[0] + "\n\n" + addresses[1];
        int[] ids = TokenizedCorpus.encodeParagraphs(tok, firstTwo);
        assertEquals(2, java.util.Arrays.stream(ids).filter(t -> t == tok.bosId()).count());
        assertEquals(tok.bosId(), ids[0]);
        assertTrue(tok.decode(java.util.Arrays.copyOfRange(ids, 1, 12)).strip().startsWith("To the Congress"));
        assertEquals(TokenizedCorpus.builtInText(), TokenizedCorpus.builtInText("moby-dick"));
        var e = assertThrows(IllegalArgumentException.class, () -> TokenizedCorpus.builtInText("sotu-1790"));
        assertTrue(e.getMessage().contains("[moby-dick, sotu]"), e.getMessage());
    }

    @Test
    void calibrationWindowsAreFixedAndLeaveTheDataOrderAlone() {
        int[] tokens = new int[1000];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i;
        TokenDataset a = new TokenDataset(tokens, 0.1, 10, 7), b = new TokenDataset(tokens, 0.1, 10, 7);
        TokenDataset.Batch c = a.calibrationBatch(4);
        assertArrayEquals(new int[] {0, 222, 445, 667}, new int[] {c.inputs()[0], c.inputs()[10], c.inputs()[20], c.inputs()[30]},
                "evenly spaced over the 900 training tokens (starts in [0, 890))");
        assertEquals(c.inputs()[1], c.targets()[0]);
        assertArrayEquals(a.nextTrainBatch(3).inputs(), b.nextTrainBatch(3).inputs(), "calibration drew nothing from the order stream");
    }

    @Test
    void tooLargeVocabularyIsAClearError(@TempDir Path dir) {
        var e = assertThrows(IllegalArgumentException.class, () -> TokenizedCorpus.prepare("ab ab ab", 1000, dir, new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("smaller vocabulary"), e.getMessage());
    }
}
