package io.lowbit.models.tokenizer;

import java.util.Arrays;

/**
 * Turns ids into text one at a time, holding back the bytes of a character that is not complete yet
 * (an emoji split over four byte-fallback pieces prints once, whole). The concatenation of everything
 * {@link #push(int)} and {@link #finish()} return equals {@link Tokenizer#decode(int[])} of the ids.
 */
public final class StreamDecoder {
    private final Tokenizer tok;
    private byte[] pending = new byte[16];
    private int n;
    private int prev = -1;

    StreamDecoder(Tokenizer tok) {
        this.tok = tok;
    }

    /** Adds one id; returns the text that became complete (possibly empty). */
    public String push(int id) {
        tok.checkId(id);
        byte[] b = tok.tokenBytes(prev, id);
        prev = id;
        if (n + b.length > pending.length) pending = Arrays.copyOf(pending, Math.max(2 * pending.length, n + b.length));
        System.arraycopy(b, 0, pending, n, b.length);
        n += b.length;
        int hold = Utf8.incompleteTail(pending, n);
        int emit = n - hold;
        String s = Utf8.decodeLossy(pending, 0, emit);
        System.arraycopy(pending, emit, pending, 0, hold);
        n = hold;
        return s;
    }

    /** Ends the stream: held-back bytes that never completed become U+FFFD each. */
    public String finish() {
        String s = Utf8.decodeLossy(pending, 0, n);
        n = 0;
        prev = -1;
        return s;
    }
}
