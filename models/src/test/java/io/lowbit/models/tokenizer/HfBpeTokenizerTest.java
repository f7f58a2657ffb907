package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mistral-7B's Hugging Face {@code tokenizer.json} (SentencePiece-style BPE: Prepend/Replace ▁
 * normalizer, byte fallback). Expected ids come from an independent quadratic reference BPE written
 * in Python for this check (lowest-rank pair first, leftmost on ties, byte fallback for characters not
 * in the vocabulary), hard-coded here; each list is annotated with its pieces.
 */
@ExtendWith(NoLeaks.class)
class HfBpeTokenizerTest {
    static HfBpeTokenizer mistral;

    @BeforeAll
    static void load() throws IOException {
        mistral = HfBpeTokenizer.load(SharedAssets.mistral());
    }

    private static void expect(String text, int... idsWithBos) {
        int[] got = mistral.encode(text);
        assertArrayEquals(idsWithBos, got, () -> "encode(\"" + text + "\") pieces " + Arrays.stream(got).mapToObj(mistral::token).toList());
        assertEquals(text, mistral.decode(idsWithBos), "decode of the reference ids");
    }

    @Test
    void fileFacts() {
        assertEquals(32000, mistral.vocabSize());
        assertEquals(58980, mistral.mergeCount());
        assertEquals(1, mistral.bosId());
        assertEquals(2, mistral.eosId());
        assertTrue(mistral.addsBosByDefault(), "tokenizer_config.json add_bos_token");
        assertFalse(mistral.addsEosByDefault());
        assertEquals("▁Hello", mistral.token(22557));
        assertEquals("<0x0A>", mistral.token(13));
    }

    @Test
    void sentencesLikeSentencePiece() {
        expect("Hello world", 1, 22557, 1526); // <s> ▁Hello ▁world
        // <s> ▁The ▁quick ▁brown ▁f ox ▁j umps ▁over ▁the ▁lazy ▁dog .
        expect("The quick brown fox jumps over the lazy dog.", 1, 415, 2936, 9060, 285, 1142, 461, 10575, 754, 272, 17898, 3914, 28723);
        // <s> ▁Call ▁me ▁I sh ma el . ▁Some ▁years ▁ago — never ▁mind ▁how ▁long ▁precisely
        expect("Call me Ishmael. Some years ago—never mind how long precisely",
                1, 5529, 528, 315, 811, 705, 301, 28723, 2909, 1267, 3584, 28821, 8174, 2273, 910, 1043, 14246);
        // <s> ▁na ï ve ▁café ▁rés um é
        expect("naïve café résumé", 1, 1879, 28920, 333, 28345, 11310, 383, 28797);
        expect("e\u0301 combining", 1, 317, 28949, 27698); // <s> ▁e ́ ▁combining
        // <s> ▁ 1 2 3 4 5 6 7 8 9 0 ▁ 3 . 1 4 1 5 9
        expect("1234567890 3.14159", 1, 28705, 28740, 28750, 28770, 28781, 28782, 28784, 28787, 28783, 28774, 28734,
                28705, 28770, 28723, 28740, 28781, 28740, 28782, 28774);
        // <s> ▁x then 19 xx and a final xxx (ties resolve to the leftmost pair)
        int[] xs = new int[21];
        xs[0] = 1;
        xs[1] = 1318;
        Arrays.fill(xs, 2, 20, 5735);
        xs[20] = 22607;
        expect("x".repeat(40), xs);
        expect("", 1);
    }

    @Test
    void byteFallbackAndWhitespace() {
        // <s> ▁▁ ▁two ▁ ▁spaces <0x09> and <0x09> tabs <0x0A> new ▁line
        expect("  two  spaces\tand\ttabs\nnew line", 1, 259, 989, 28705, 10599, 12, 391, 12, 24856, 13, 1095, 1407);
        // Mistral has both emoji as pieces: <s> ▁em oji ▁ 😀 🚀 ▁done
        expect("emoji 😀🚀 done", 1, 877, 27813, 28705, 30575, 30012, 2203);
        // 🦜 and 𝄞 are not: <s> ▁par rot ▁ <0xF0><0x9F><0xA6><0x9C> ▁cle f ▁ <0xF0><0x9D><0x84><0x9E>
        expect("parrot 🦜 clef 𝄞", 1, 940, 5490, 28705, 243, 162, 169, 159, 1544, 28722, 28705, 243, 160, 135, 161);
        // <s> ▁ <0x00> \u0001 ctrl   (U+0001 is a piece of its own in Mistral's vocabulary)
        expect("\u0000\u0001ctrl", 1, 28705, 3, 29534, 8022);
        expect("日本語のテキスト", 1, 28705, 29142, 29119, 30321, 28993, 29610, 29753, 29109, 29123);
    }

    @Test
    void specialTokensMatchWhole() {
        // <s> | <s> | "▁" + "▁not▁special▁" -> ▁ ▁not ▁special ▁ | </s>   (each stretch gets its own ▁ prefix, as HF does)
        assertArrayEquals(new int[] {1, 1, 28705, 459, 2841, 28705, 2}, mistral.encode("<s> not special </s>"));
        assertArrayEquals(new int[] {1, 1, 22557, 2}, mistral.encode("<s>Hello</s>"));
        // decoding skips special tokens and, like HF's Strip decoder, drops one space at the very start
        assertEquals(" not special ", mistral.decode(new int[] {1, 1, 28705, 459, 2841, 28705, 2}));
        assertEquals("Hello", mistral.decode(new int[] {1, 1, 22557, 2}));
    }

    @Test
    void sameAsSentencePieceModelOnSharedPieces() throws IOException {
        // Mistral's HF file and Llama-2's .model are different vocabularies, but both are SentencePiece BPE:
        // the surface pieces must agree wherever both vocabularies hold the same pieces with the same order of merges.
        SentencePieceTokenizer llama = SentencePieceTokenizer.load(SharedAssets.llama2());
        for (String s : List.of("Hello world", "  two  spaces\tand\ttabs\nnew line", "日本語のテキスト", "1234567890 3.14159")) {
            List<String> a = Arrays.stream(llama.encode(s, false, false)).mapToObj(llama::token).toList();
            List<String> b = Arrays.stream(mistral.encode(s, false, false)).mapToObj(mistral::token).toList();
            assertEquals(a, b, s);
        }
    }

    @Test
    void roundTrips() {
        String[] texts = {"", "a", " ", "  ", "\t\t\n", "x\u0000y", "\u007f\u0080\u00ff", "日本語と中文和한국어", "👩‍👩‍👧‍👦 family 🦜",
                "a\u0301\u0302\u0303 e\u0308", "\r\n\r\n", " ".repeat(37) + "end" + " ".repeat(5), "Ω≈ç√∫˜µ≤≥÷", "\uD800\uDC00 linear b",
                "mixed 123 abc ABC !@#$%^&*()_+-=[]{}|;':\",./<>?", "\u200b\u200c\u200d zero widths", "\uFEFFbom"};
        for (String t : texts) {
            int[] ids = mistral.encode(t, true, true);
            assertEquals(t, mistral.decode(ids), () -> "round trip of " + Arrays.toString(t.codePoints().toArray()));
        }
    }

    @Test
    void loadFromDirectoryAndByName() throws IOException {
        assertInstanceOf(HfBpeTokenizer.class, Tokenizer.load(SharedAssets.mistral()));
        assertInstanceOf(HfBpeTokenizer.class, Tokenizer.load(SharedAssets.mistral().getParent()));
    }

    @Test
    void metaspacePreTokenizerEncodesLikePrependReplace() throws IOException {
        // newer HF files express the same SentencePiece normalization as a Metaspace pre-tokenizer and decoder
        Map<String, Object> root = Json.parseObject(Files.readString(SharedAssets.mistral(), StandardCharsets.UTF_8), "mistral");
        root.put("normalizer", null);
        root.put("pre_tokenizer", new LinkedHashMap<>(Map.of("type", "Metaspace", "replacement", "▁", "prepend_scheme", "first", "split", false)));
        root.put("decoder", Map.of("type", "Sequence", "decoders", List.of(Map.of("type", "ByteFallback"), Map.of("type", "Fuse"),
                Map.of("type", "Metaspace", "replacement", "▁", "prepend_scheme", "first", "split", false))));
        HfBpeTokenizer meta = HfBpeTokenizer.fromJson(root, null, "mistral-metaspace");
        for (String t : List.of("Hello world", "two  spaces\tand\ttabs\nnew line ", "parrot 🦜 clef 𝄞", "x".repeat(40), "")) {
            assertArrayEquals(mistral.encode(t, true, false), meta.encode(t, true, false), t);
            assertEquals(t, meta.decode(meta.encode(t, true, false)));
        }
        // as in HF, Metaspace prepends ▁ only when the text does not already start with one, so a leading
        // space is absorbed: "  two" becomes ▁▁two (not ▁▁▁two), and decoding drops the first ▁
        assertArrayEquals(new int[] {1, 28705, 989}, meta.encode("  two", true, false)); // <s> ▁ ▁two
        assertEquals(" two", meta.decode(new int[] {1, 28705, 989}));
        // prepend_scheme "first": only the stretch at the very start gets ▁, not the one after a special token
        assertArrayEquals(new int[] {1, 22557, 1, 16230}, meta.encode("Hello<s>Hello", true, false)); // <s> ▁Hello <s> Hello
    }

    @Test
    void llama3StyleSplitThenByteLevelWithIgnoreMerges() {
        Map<String, Object> root = tinyByteLevel(List.of("Ġ t", "h e", "Ġt he", "1 2", "12 3", "123 4"));
        @SuppressWarnings("unchecked")
        Map<String, Object> vocab = (Map<String, Object>) ((Map<String, Object>) root.get("model")).get("vocab");
        vocab.put("12", 259L);
        vocab.put("123", 260L);
        vocab.put("1234", 261L);
        vocab.put("Ġxyz", 262L); // reachable by no merge
        HfBpeTokenizer gpt2 = HfBpeTokenizer.fromJson(root, null, "gpt2-style");
        assertArrayEquals(new int[] {261}, gpt2.encode("1234", false, false));
        assertArrayEquals(new int[] {' ', 'x', 'y', 'z'}, gpt2.encode(" xyz", false, false)); // ids are byte values here: Ġ x y z

        Map<String, Object> split = new LinkedHashMap<>();
        split.put("type", "Split");
        split.put("pattern", Map.of("Regex", ByteLevel.LLAMA3_PATTERN));
        split.put("behavior", "Isolated");
        split.put("invert", false);
        root.put("pre_tokenizer", Map.of("type", "Sequence", "pretokenizers",
                List.of(split, Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", false))));
        @SuppressWarnings("unchecked")
        Map<String, Object> model = (Map<String, Object>) root.get("model");
        model.put("ignore_merges", true);
        HfBpeTokenizer llama3 = HfBpeTokenizer.fromJson(root, null, "llama3-style");
        assertArrayEquals(new int[] {260, '4'}, llama3.encode("1234", false, false)); // digits split in groups of three
        assertArrayEquals(new int[] {262}, llama3.encode(" xyz", false, false));      // whole word in the vocabulary
        assertArrayEquals(new int[] {'t', 257, 258}, llama3.encode("the the", false, false));
        assertEquals("1234 xyz", llama3.decode(llama3.encode("1234 xyz", false, false)));
    }

    // ------------------------------------------------------------------ small hand-made files

    static Map<String, Object> tinyByteLevel(List<Object> merges) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevel.byteToChar(b)), (long) b);
        vocab.put("Ġt", 256L);
        vocab.put("he", 257L);
        vocab.put("Ġthe", 258L);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("vocab", vocab);
        model.put("merges", merges);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true));
        root.put("decoder", Map.of("type", "ByteLevel"));
        root.put("model", model);
        return root;
    }

    @Test
    void mergesAsStringsOrArraysAndRankOrder() {
        HfBpeTokenizer a = HfBpeTokenizer.fromJson(tinyByteLevel(List.of("Ġ t", "h e", "Ġt he")), null, "strings");
        HfBpeTokenizer b = HfBpeTokenizer.fromJson(tinyByteLevel(List.of(List.of("Ġ", "t"), List.of("h", "e"), List.of("Ġt", "he"))), null, "arrays");
        // split "the", " the": t|h|e merges h+e (rank 1); Ġ|t|h|e merges Ġt (rank 0), he (rank 1), Ġt+he (rank 2)
        int[] expect = {'t', 257, 258};
        assertArrayEquals(expect, a.encode("the the", false, false));
        assertArrayEquals(expect, b.encode("the the", false, false));
        assertEquals("the the", a.decode(expect));
        assertFalse(a.addsBosByDefault());
        assertEquals(-1, a.bosId());
        assertThrows(IllegalArgumentException.class, () -> a.encode("x", true, false));
    }

    @Test
    void brokenMergesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfBpeTokenizer.fromJson(tinyByteLevel(List.of("Ġ t", "h q")), null, "t.json"));
        assertEquals("t.json: merge #1 (\"h\" + \"q\"): result \"hq\" is not in the vocabulary", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HfBpeTokenizer.fromJson(tinyByteLevel(List.of("Ġ t", "Ġt zz")), null, "t.json"));
        assertEquals("t.json: merge #1 (\"Ġt\" + \"zz\"): part \"zz\" is not in the vocabulary", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HfBpeTokenizer.fromJson(tinyByteLevel(List.of("Ġt")), null, "t.json"));
        assertTrue(e.getMessage().startsWith("t.json: merge #0 \"Ġt\" is not two tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HfBpeTokenizer.fromJson(tinyByteLevel(List.of(List.of("a"))), null, "t.json"));
        assertTrue(e.getMessage().startsWith("t.json: merge #0 must be"), e.getMessage());
    }

    @Test
    void brokenMergeInRealFileNamesItsIndex(@TempDir Path dir) throws IOException {
        String text = Files.readString(SharedAssets.mistral(), StandardCharsets.UTF_8);
        Map<String, Object> root = Json.parseObject(text, "mistral");
        @SuppressWarnings("unchecked")
        Map<String, Object> model = (Map<String, Object>) root.get("model");
        @SuppressWarnings("unchecked")
        List<Object> merges = new ArrayList<>((List<Object>) model.get("merges"));
        merges.set(1234, "▁Hel zzqq");
        model.put("merges", merges);
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, Json.write(root));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(f));
        assertTrue(e.getMessage().contains("merge #1234 (\"▁Hel\" + \"zzqq\"): part \"zzqq\" is not in the vocabulary"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @Test
    void unsupportedPiecesAreRefusedByName() {
        Map<String, Object> root = tinyByteLevel(List.of());
        root.put("normalizer", Map.of("type", "BertNormalizer"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfBpeTokenizer.fromJson(root, null, "x.json"));
        assertEquals("x.json: normalizer type \"BertNormalizer\" is not supported", e.getMessage());
        Map<String, Object> root2 = tinyByteLevel(List.of());
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) root2.get("model");
        m.put("type", "WordPiece");
        e = assertThrows(IllegalArgumentException.class, () -> HfBpeTokenizer.fromJson(root2, null, "y.json"));
        assertEquals("y.json: model type \"WordPiece\" is not supported (only BPE)", e.getMessage());
    }
}
