package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.io.InputStream;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SentencePiece options the Llama-2 model does not use: remove_extra_whitespaces, user-defined symbols,
 * unknown characters without byte fallback (a run of them fuses into one unk), and UNUSED pieces (they
 * may be formed by a merge but are split back). Expected ids come from the reference implementation
 * (python3-sentencepiece 0.1.97) run once on the same model bytes, hard-coded here.
 */
@ExtendWith(NoLeaks.class)
class SentencePieceOptionsTest {
    static SentencePieceTokenizer tiny() throws IOException {
        try (InputStream in = SentencePieceOptionsTest.class.getResourceAsStream("tiny-bpe.model")) {
            assertNotNull(in, "test resource tiny-bpe.model");
            return SentencePieceTokenizer.parse(in.readAllBytes(), "tiny-bpe.model");
        }
    }

    @Test
    void whitespaceCleanupUserDefinedAndUnk() throws IOException {
        SentencePieceTokenizer sp = tiny();
        assertEquals(300, sp.vocabSize());
        assertFalse(sp.byteFallback());
        assertEquals(SentencePieceTokenizer.USER_DEFINED, sp.type(3));
        assertEquals("<sep>", sp.token(3));
        assertEquals("[MASK]", sp.token(4));
        // ▁the ▁whale ▁ship
        assertArrayEquals(new int[] {7, 33, 44}, sp.encode("the whale ship", false, false));
        // leading, trailing and repeated spaces removed
        assertArrayEquals(new int[] {7, 33}, sp.encode("  the   whale  ", false, false));
        assertEquals("the whale", sp.decode(new int[] {7, 33}));
        // ▁ahab <sep> queg ▁ [MASK] !
        assertArrayEquals(new int[] {77, 3, 83, 274, 4, 298}, sp.encode("ahab<sep>queg [MASK]!", false, false));
        assertEquals("ahab<sep>queg [MASK]!", sp.decode(new int[] {77, 3, 83, 274, 4, 298}));
        // x and z unknown, separately: ▁ <unk> y <unk> ▁ahab
        assertArrayEquals(new int[] {274, 0, 291, 0, 77}, sp.encode("xyz ahab", false, false));
        assertEquals(" \u2047 y \u2047  ahab", sp.decode(new int[] {274, 0, 291, 0, 77}));
        // a run of unknown characters is one unk: ▁ <unk> ▁ <unk>
        assertArrayEquals(new int[] {274, 0, 274, 0}, sp.encode("ZZZ Q", false, false));
        assertArrayEquals(new int[] {7, 0, 16}, sp.encode("the\twhale", false, false));
        assertArrayEquals(new int[] {274, 0, 277, 54, 46, 79}, sp.encode("Stardick oon", false, false));
        assertArrayEquals(new int[] {274, 0, 7, 274, 0}, sp.encode("é the ü", false, false));
        assertArrayEquals(new int[0], sp.encode("", false, false));
        assertArrayEquals(new int[0], sp.encode("   ", false, false));
        assertArrayEquals(new int[] {1, 2}, sp.encode("   ", true, true));
    }

    /**
     * Pieces: 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, 3 "ab" (-1), 4 "▁ab" UNUSED (-2), 5 "▁abb" (-3), 6 "▁" (-4),
     * 7 "a" (-5), 8 "b" (-6); trainer_spec model_type BPE; normalizer identity, dummy prefix on,
     * remove_extra_whitespaces off.
     */
    static final String UNUSED_MODEL = "0a0e0a053c756e6b3e150000000018020a0c0a033c733e150000000018030a0d0a043c2f733e150000000018030a090a02616215000080bf"
            + "0a0e0a05e29681616215000000c018050a0d0a06e2968161626215000040c00a0a0a03e2968115000080c00a080a0161150000a0c00a080a0162150000c0c0"
            + "120218021a0e0a086964656e7469747918012000";

    @Test
    void unusedPiecesAreSplitBack() {
        SentencePieceTokenizer sp = SentencePieceTokenizer.parse(HexFormat.of().parseHex(UNUSED_MODEL), "unused.model");
        assertEquals(SentencePieceTokenizer.UNUSED, sp.type(4));
        // ▁ a b -> ▁ ab -> ▁ab (UNUSED) -> split back into ▁ ab
        assertArrayEquals(new int[] {6, 3}, sp.encode("ab", false, false));
        // ▁ab is still a step on the way: ▁ ab b -> ▁ab b -> ▁abb
        assertArrayEquals(new int[] {5}, sp.encode("abb", false, false));
        assertArrayEquals(new int[] {6, 3, 6, 3}, sp.encode("ab ab", false, false));
        assertArrayEquals(new int[] {6, 7, 6, 6, 8}, sp.encode("a  b", false, false));
        assertArrayEquals(new int[] {6, 8, 7}, sp.encode("ba", false, false));
        assertEquals("a  b", sp.decode(new int[] {6, 7, 6, 6, 8}));
    }

    @Test
    void precompiledCharsmapIsRefused() {
        // append normalizer_spec {name: "nmt_nfkc", precompiled_charsmap: 01 02 03}: 1a 0f 0a 08 "nmt_nfkc" 12 03 01 02 03
        String extra = "1a0f0a08" + HexFormat.of().formatHex("nmt_nfkc".getBytes(java.nio.charset.StandardCharsets.US_ASCII)) + "1203010203";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SentencePieceTokenizer.parse(HexFormat.of().parseHex(UNUSED_MODEL + extra), "nfkc.model"));
        assertTrue(e.getMessage().startsWith("nfkc.model: normalizer \"nmt_nfkc\" has a precompiled charsmap"), e.getMessage());
    }
}
