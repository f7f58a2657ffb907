package io.lowbit.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level alphabet (Radford et al. 2019, {@code bytes_to_unicode} in OpenAI's encoder.py):
 * every byte 0..255 gets a printable character (the printable Latin-1 bytes {@code !..~ ¡..¬ ®..ÿ}
 * stand for themselves, the other 68 bytes become U+0100.. in byte order, so a space is {@code Ġ}),
 * which makes any text a string over a 256-symbol alphabet. Plus the regex pre-tokenizer that splits
 * text into word-like pieces before BPE.
 */
public final class ByteLevel {
    /** GPT-2's split pattern (HF ByteLevel pre-tokenizer with use_regex). */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    /** Llama-3's split pattern (cl100k style: case-insensitive contractions, digits in groups of up to 3). */
    public static final String LLAMA3_PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[0x180];
    private static final Pattern GPT2 = compile(GPT2_PATTERN);

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    /**
     * Compiles a split pattern with Unicode semantics ({@code \s} is Unicode White_Space, case-insensitive
     * matching is Unicode-aware), as the regex engines of the reference tokenizers have.
     */
    public static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    /** The alphabet character standing for byte {@code b} (0..255). */
    public static char byteToChar(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte an alphabet character stands for, or -1 if {@code c} is not in the alphabet. */
    public static int charToByte(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** The text's UTF-8 bytes spelled in the byte-level alphabet. */
    public static String encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        char[] c = new char[b.length];
        for (int i = 0; i < b.length; i++) c[i] = BYTE_TO_CHAR[b[i] & 0xFF];
        return new String(c);
    }

    /** The bytes a byte-level string stands for; an exception names the first character outside the alphabet. */
    public static byte[] decode(String s) {
        byte[] out = new byte[s.length()];
        for (int i = 0; i < s.length(); i++) {
            int b = charToByte(s.charAt(i));
            if (b < 0) throw new IllegalArgumentException("character U+" + String.format("%04X", (int) s.charAt(i)) + " at " + i + " of \"" + s + "\" is not a byte-level symbol");
            out[i] = (byte) b;
        }
        return out;
    }

    /**
     * Splits text into the regex matches and the gaps between them, each its own piece (HF's "Isolated"
     * split behaviour; for the GPT-2 and Llama-3 patterns there are no gaps).
     */
    public static List<String> split(Pattern pattern, String text) {
        List<String> out = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.end() == m.start()) continue;
            if (m.start() > last) out.add(text.substring(last, m.start()));
            out.add(text.substring(m.start(), m.end()));
            last = m.end();
        }
        if (last < text.length()) out.add(text.substring(last));
        return out;
    }

    /** Splits with the GPT-2 pattern. */
    public static List<String> splitGpt2(String text) {
        return split(GPT2, text);
    }
}
