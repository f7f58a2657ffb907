package io.lowbit.models.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A minimal reader for the protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
 * a message is a sequence of (tag, value) records, tag = field_number &lt;&lt; 3 | wire_type, with wire
 * types 0 varint, 1 fixed64, 2 length-delimited (strings, bytes, sub-messages), 5 fixed32.
 * Every error names the source and the absolute byte offset.
 */
final class ProtoReader {
    static final int VARINT = 0, FIXED64 = 1, LEN = 2, FIXED32 = 5;

    private final byte[] buf;
    private final int end;
    private final String source;
    private int pos;

    ProtoReader(byte[] buf, String source) {
        this(buf, 0, buf.length, source);
    }

    private ProtoReader(byte[] buf, int start, int end, String source) {
        this.buf = buf;
        this.pos = start;
        this.end = end;
        this.source = source;
    }

    /** True while records remain in this message. */
    boolean hasMore() {
        return pos < end;
    }

    /** Current absolute offset in the underlying bytes. */
    int offset() {
        return pos;
    }

    /** Reads a tag; use {@link #field(int)} and {@link #wireType(int)} on it. */
    int readTag() {
        int at = pos;
        long t = readVarint();
        if (t >>> 3 == 0 || t > 0x7FFFFFFFL) throw error(at, "invalid tag " + t);
        int wt = (int) (t & 7);
        if (wt != VARINT && wt != FIXED64 && wt != LEN && wt != FIXED32)
            throw error(at, "unsupported wire type " + wt + " for field " + (t >>> 3));
        return (int) t;
    }

    static int field(int tag) {
        return tag >>> 3;
    }

    static int wireType(int tag) {
        return tag & 7;
    }

    /** Base-128 varint, little-endian groups of 7 bits, at most 10 bytes. */
    long readVarint() {
        int at = pos;
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) throw error(at, "truncated varint");
            int b = buf[pos++] & 0xFF;
            v |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        throw error(at, "varint longer than 10 bytes");
    }

    /** A 32-bit IEEE float (wire type 5, little-endian). */
    float readFloat() {
        return Float.intBitsToFloat(readFixed32());
    }

    int readFixed32() {
        if (end - pos < 4) throw error(pos, "truncated fixed32");
        int v = (buf[pos] & 0xFF) | (buf[pos + 1] & 0xFF) << 8 | (buf[pos + 2] & 0xFF) << 16 | (buf[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    /** A length-delimited field as a reader over its bytes (a sub-message). */
    ProtoReader readMessage() {
        int len = readLength();
        ProtoReader r = new ProtoReader(buf, pos, pos + len, source);
        pos += len;
        return r;
    }

    /** A length-delimited field as strict UTF-8 text. */
    String readString() {
        int at = pos;
        int len = readLength();
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(buf, pos, len)).toString();
            pos += len;
            return s;
        } catch (CharacterCodingException e) {
            throw error(at, "string is not valid UTF-8");
        }
    }

    /** Reads a value of wire type {@code wt} that must be {@code expected}, else a clear error naming the field. */
    void expect(int tag, int expected) {
        if (wireType(tag) != expected)
            throw error(pos, "field " + field(tag) + " has wire type " + wireType(tag) + ", expected " + expected);
    }

    /** Skips the value of an unknown field. */
    void skip(int tag) {
        switch (wireType(tag)) {
            case VARINT -> readVarint();
            case FIXED64 -> advance(8);
            case FIXED32 -> advance(4);
            case LEN -> advance(readLength());
            default -> throw error(pos, "cannot skip wire type " + wireType(tag));
        }
    }

    private void advance(int n) {
        if (end - pos < n) throw error(pos, "field of " + n + " bytes runs past the end of its message (ends at " + end + ")");
        pos += n;
    }

    private int readLength() {
        int at = pos;
        long len = readVarint();
        if (len < 0 || len > end - pos)
            throw error(at, "length " + len + " runs past the end of its message (" + (end - pos) + " bytes left)");
        return (int) len;
    }

    IllegalArgumentException error(int at, String what) {
        return new IllegalArgumentException(source + ": corrupt protobuf at byte offset " + at + ": " + what);
    }
}
