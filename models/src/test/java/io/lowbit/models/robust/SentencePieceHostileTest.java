package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.tokenizer.SentencePieceTokenizer;
import org.junit.jupiter.api.Test;

/** Hand-written hostile SentencePiece {@code .model} protobufs: each fails naming the source and the byte offset. */
class SentencePieceHostileTest {
    static void fails(byte[] bytes, String... mustContain) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SentencePieceTokenizer.parse(bytes, "evil.model"));
        assertTrue(e.getMessage().startsWith("evil.model"), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
    }

    static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    @Test
    void truncatedVarint() { fails(b(0x0a, 0x80), "varint"); }

    @Test
    void varintLongerThanTenBytes() { fails(b(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "varint"); }

    @Test
    void negativeLength() { // length varint = -1 as a 10-byte two's complement
        fails(b(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "offset");
    }

    @Test
    void hugeLength() { fails(b(0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00), "runs past the end"); }

    @Test
    void truncatedPiece() { fails(b(0x0a, 0x05, 0x0a, 0x03, 'a'), "offset"); }

    @Test
    void pieceStringNotUtf8() { fails(b(0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe), "UTF-8"); }

    @Test
    void tagZeroAndBadWireType() {
        fails(b(0x00, 0x00), "invalid tag");
        fails(b(0x0f), "wire type");
    }

    @Test
    void noPieces() { fails(b(), "evil.model"); }
}
