package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Llama-2 SentencePiece model against ids that the reference implementation (Debian's
 * python3-sentencepiece 0.1.97, {@code SentencePieceProcessor.encode}) produced once; they are
 * hard-coded here, the reference is not a test dependency. Each id list was also read back piece by
 * piece (comments) to check that it spells the input.
 */
@ExtendWith(NoLeaks.class)
class SentencePieceTokenizerTest {
    static SentencePieceTokenizer sp;

    @BeforeAll
    static void load() throws IOException {
        sp = SentencePieceTokenizer.load(SharedAssets.llama2());
    }

    private static void expect(String text, int... ids) {
        assertArrayEquals(ids, sp.encode(text, false, false), () -> "encode(\"" + text + "\") pieces "
                + Arrays.stream(sp.encode(text, false, false)).mapToObj(sp::token).toList());
        assertEquals(text, sp.decode(ids), "decode of the reference ids");
    }

    @Test
    void specAndVocabulary() {
        assertEquals(32000, sp.vocabSize());
        assertEquals(1, sp.bosId());
        assertEquals(2, sp.eosId());
        assertEquals(0, sp.unkId());
        assertTrue(sp.byteFallback());
        assertEquals("<unk>", sp.token(0));
        assertEquals("<s>", sp.token(1));
        assertEquals("</s>", sp.token(2));
        assertEquals("<0x00>", sp.token(3));
        assertEquals("<0xFF>", sp.token(258));
        assertEquals("▁▁", sp.token(259));
        assertEquals("▁Hello", sp.token(15043));
        assertEquals(SentencePieceTokenizer.CONTROL, sp.type(1));
        assertEquals(SentencePieceTokenizer.BYTE, sp.type(3));
        assertEquals(15043, sp.tokenId("▁Hello"));
        assertEquals(1, sp.tokenId("<s>"));
        assertTrue(sp.addsBosByDefault());
    }

    @Test
    void helloWorldWithBos() {
        assertArrayEquals(new int[] {1, 15043, 3186}, sp.encode("Hello world", true, false));
        assertArrayEquals(new int[] {1, 15043, 3186}, sp.encode("Hello world"));
        assertArrayEquals(new int[] {1, 15043, 3186, 2}, sp.encode("Hello world", true, true));
        assertEquals("Hello world", sp.decode(new int[] {1, 15043, 3186, 2}));
    }

    @Test
    void realSentences() {
        // ▁The ▁quick ▁brown ▁fo x ▁j umps ▁over ▁the ▁lazy ▁dog .
        expect("The quick brown fox jumps over the lazy dog.", 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889);
        // ▁Call ▁me ▁I sh ma el . ▁Some ▁years ▁ago — ne ver ▁mind ▁how ▁long ▁precisely
        expect("Call me Ishmael. Some years ago—never mind how long precisely",
                8251, 592, 306, 845, 655, 295, 29889, 3834, 2440, 8020, 30003, 484, 369, 3458, 920, 1472, 17503);
        // ▁na ï ve ▁c afé ▁rés um é
        expect("naïve café résumé", 1055, 30085, 345, 274, 28059, 6896, 398, 29948);
        // ▁e  ́(U+0301) ▁combining
        expect("e\u0301 combining", 321, 30103, 29299);
        // ▁< s > ▁not ▁special ▁</ s >: control pieces in text are plain text for SentencePiece
        expect("<s> not special </s>", 529, 29879, 29958, 451, 4266, 1533, 29879, 29958);
        // ▁ 1 2 3 ... digits are single pieces in Llama-2
        expect("1234567890 3.14159", 29871, 29896, 29906, 29941, 29946, 29945, 29953, 29955, 29947, 29929, 29900,
                29871, 29941, 29889, 29896, 29946, 29896, 29945, 29929);
    }

    @Test
    void whitespaceControlAndByteFallback() {
        // ▁▁ ▁two ▁ ▁spaces <0x09> and <0x09> tabs <0x0A> new ▁line
        expect("  two  spaces\tand\ttabs\nnew line", 259, 1023, 29871, 8162, 12, 392, 12, 21175, 13, 1482, 1196);
        // ▁em o ji ▁ <0xF0><0x9F><0x98><0x80> <0xF0><0x9F><0x9A><0x80> ▁done
        expect("emoji 😀🚀 done", 953, 29877, 2397, 29871, 243, 162, 155, 131, 243, 162, 157, 131, 2309);
        // ▁ <0x00> <0x01> ctrl
        expect("\u0000\u0001ctrl", 29871, 3, 4, 24220);
        // ▁ 日 本 語 の テ キ ス ト
        expect("日本語のテキスト", 29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279);
        // ▁ü n ï c öd é ▁▁ <0x0A>x3 ▁ ▁end
        expect("ünïcödé  \n\n\n  end", 2505, 29876, 30085, 29883, 9289, 29948, 259, 13, 13, 13, 29871, 1095);
        expect("", new int[0]);
        expect(" ", 259);
        expect(" leading", 29871, 8236);
        expect("trailing ", 25053, 29871);
    }

    @Test
    void mergeTieBreakingOnRepeats() {
        // 40 x: ▁x, then nine xxxx and a final xxx: equal-score merges go to the leftmost pair
        int[] ids = new int[11];
        ids[0] = 921;
        Arrays.fill(ids, 1, 10, 14633);
        ids[10] = 12353;
        expect("x".repeat(40), ids);
    }

    @Test
    void decodeRules() {
        assertEquals("  Hello", sp.decode(new int[] {259, 15043})); // only the first dummy space is dropped
        assertEquals(" \u2047 ", sp.decode(new int[] {0}));          // unk prints as SentencePiece's " ⁇ "
        assertEquals("\uFFFD\uFFFD", sp.decode(new int[] {243, 162})); // a cut-off UTF-8 sequence: one U+FFFD per byte
        assertEquals("", sp.decode(new int[] {29871}));
        assertEquals("Hello", sp.decodeToken(1, 15043));
        assertEquals(" world", sp.decodeToken(15043, 3186));
        assertEquals("Hello", sp.decodeToken(-1, 15043));
        assertThrows(IllegalArgumentException.class, () -> sp.decode(new int[] {32000}));
        assertThrows(IllegalArgumentException.class, () -> sp.decode(new int[] {-1}));
    }

    @Test
    void streamDecoderReassemblesBytePieces() {
        int[] ids = sp.encode("emoji 😀🚀 done", true, false);
        StreamDecoder d = sp.streamDecoder();
        StringBuilder sb = new StringBuilder();
        int emptyPushes = 0;
        for (int id : ids) {
            String s = d.push(id);
            if (s.isEmpty()) emptyPushes++;
            assertFalse(s.contains("\uFFFD"), "partial character leaked: " + s);
            sb.append(s);
        }
        sb.append(d.finish());
        assertEquals("emoji 😀🚀 done", sb.toString());
        assertEquals(1 + 3 + 3, emptyPushes, "BOS and the three leading bytes of each emoji print nothing");
    }

    @Test
    void roundTripsArbitraryUnicode() {
        String[] texts = {"", "a", "  ", "\t\t\n", "x\u0000y", "\u007f\u0080\u00ff", "日本語と中文和한국어", "👩‍👩‍👧‍👦 family", "🏳️‍🌈",
                "a\u0301\u0302\u0303 e\u0308", "\r\n\r\n", " ".repeat(37) + "end" + " ".repeat(5), "Ω≈ç√∫˜µ≤≥÷", "\uD800\uDC00 linear b",
                "mixed 123 abc ABC !@#$%^&*()_+-=[]{}|;':\",./<>?", "\u200b\u200c\u200d zero widths", "\uFEFFbom"};
        for (String t : texts) {
            int[] ids = sp.encode(t, true, true);
            assertEquals(t, sp.decode(ids), () -> "round trip of " + Arrays.toString(t.codePoints().toArray()));
            StreamDecoder d = sp.streamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(d.push(id));
            assertEquals(t, sb.append(d.finish()).toString(), "stream decode");
        }
    }

    @Test
    void loadPicksFormatFromPath() throws IOException {
        Tokenizer t = Tokenizer.load(SharedAssets.llama2());
        assertInstanceOf(SentencePieceTokenizer.class, t);
        assertInstanceOf(SentencePieceTokenizer.class, Tokenizer.load(SharedAssets.llama2().getParent()));
    }

    @Test
    void corruptProtobufNamesFileAndOffset() throws IOException {
        byte[] good = Files.readAllBytes(SharedAssets.llama2());
        // cut in the middle of the pieces: a length runs past the end
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SentencePieceTokenizer.parse(Arrays.copyOf(good, 1001), "cut.model"));
        assertTrue(e.getMessage().startsWith("cut.model: corrupt protobuf at byte offset "), e.getMessage());
        // a piece whose string length is absurd
        byte[] bad = good.clone();
        bad[1] = (byte) 0xFF; // first piece's length varint becomes a continuation byte
        bad[2] = (byte) 0xFF;
        bad[3] = (byte) 0xFF;
        bad[4] = (byte) 0x7F;
        e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.parse(bad, "bad.model"));
        assertTrue(e.getMessage().contains("bad.model: corrupt protobuf at byte offset 1"), e.getMessage());
        // not a protobuf at all: wire type 7
        e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.parse(new byte[] {0x0F, 0, 0}, "junk.model"));
        assertTrue(e.getMessage().contains("junk.model: corrupt protobuf at byte offset 0: unsupported wire type 7"), e.getMessage());
        // empty file
        e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.parse(new byte[0], "empty.model"));
        assertTrue(e.getMessage().contains("empty.model"), e.getMessage());
    }

    @Test
    void unigramIsRefused() {
        // pieces: one NORMAL piece "a"; trainer_spec: model_type = 1 (UNIGRAM)
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] piece = {0x0A, 0x01, 'a', 0x15, 0, 0, 0, 0, 0x18, 0x01};
        b.write(0x0A);
        b.write(piece.length);
        b.writeBytes(piece);
        b.writeBytes(new byte[] {0x12, 0x02, 0x18, 0x01});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.parse(b.toByteArray(), "uni.model"));
        assertTrue(e.getMessage().contains("UNIGRAM"), e.getMessage());
    }
}
