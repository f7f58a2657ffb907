package io.lowbit.models.tokenizer;

/** UTF-8 helpers shared by the tokenizers: lossy decoding the way SentencePiece and HF byte fallback do it. */
final class Utf8 {
    private Utf8() {
    }

    /**
     * Decodes {@code b[off, off+len)}; each byte that does not start a complete, well-formed,
     * shortest-form sequence (surrogates and values above U+10FFFF rejected) becomes one U+FFFD.
     */
    static String decodeLossy(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder(len);
        int i = off, end = off + len;
        while (i < end) {
            int n = sequenceLength(b, i, end);
            if (n == 0) {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            int c0 = b[i] & 0xFF;
            int cp = switch (n) {
                case 1 -> c0;
                case 2 -> ((c0 & 0x1F) << 6) | (b[i + 1] & 0x3F);
                case 3 -> ((c0 & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F);
                default -> ((c0 & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F);
            };
            sb.appendCodePoint(cp);
            i += n;
        }
        return sb.toString();
    }

    /** Length of the well-formed sequence starting at {@code i}, or 0 if it is invalid or cut off by {@code end}. */
    static int sequenceLength(byte[] b, int i, int end) {
        int c0 = b[i] & 0xFF;
        if (c0 < 0x80) return 1;
        int n;
        int lo = 0x80, hi = 0xBF; // allowed range of the second byte (Unicode Table 3-7)
        if (c0 >= 0xC2 && c0 <= 0xDF) n = 2;
        else if (c0 >= 0xE0 && c0 <= 0xEF) {
            n = 3;
            if (c0 == 0xE0) lo = 0xA0;
            if (c0 == 0xED) hi = 0x9F;
        } else if (c0 >= 0xF0 && c0 <= 0xF4) {
            n = 4;
            if (c0 == 0xF0) lo = 0x90;
            if (c0 == 0xF4) hi = 0x8F;
        } else return 0;
        if (i + n > end) return 0;
        int c1 = b[i + 1] & 0xFF;
        if (c1 < lo || c1 > hi) return 0;
        for (int k = 2; k < n; k++) if ((b[i + k] & 0xC0) != 0x80) return 0;
        return n;
    }

    /**
     * How many bytes at the end of {@code b[0, len)} form the start of a sequence that more bytes could
     * still complete (0 to 3); a stream decoder holds those back.
     */
    static int incompleteTail(byte[] b, int len) {
        for (int back = 1; back <= 3 && back <= len; back++) {
            int c = b[len - back] & 0xFF;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
            if (need > back) {
                // only hold back if what we have so far is a valid prefix
                int lo = 0x80, hi = 0xBF;
                if (c == 0xE0) lo = 0xA0;
                if (c == 0xED) hi = 0x9F;
                if (c == 0xF0) lo = 0x90;
                if (c == 0xF4) hi = 0x8F;
                if (back >= 2) {
                    int c1 = b[len - back + 1] & 0xFF;
                    if (c1 < lo || c1 > hi) return 0;
                }
                return back;
            }
            return 0;
        }
        return 0;
    }
}
