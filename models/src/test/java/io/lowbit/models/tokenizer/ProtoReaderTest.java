package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The protobuf wire reader on hand-encoded bytes (examples from the protobuf encoding guide). */
@ExtendWith(NoLeaks.class)
class ProtoReaderTest {
    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    @Test
    void varintsAndTags() {
        // field 1 varint 150 = 08 96 01
        ProtoReader r = new ProtoReader(bytes(0x08, 0x96, 0x01), "t");
        int tag = r.readTag();
        assertEquals(1, ProtoReader.field(tag));
        assertEquals(ProtoReader.VARINT, ProtoReader.wireType(tag));
        assertEquals(150, r.readVarint());
        assertFalse(r.hasMore());
        // int32 -1 is sign-extended to 10 bytes
        r = new ProtoReader(bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), "t");
        assertEquals(-1, (int) r.readVarint());
        // field 43 (pad_id) tag needs two bytes: (43 << 3) | 0 = 344 = D8 02
        r = new ProtoReader(bytes(0xD8, 0x02, 0x05), "t");
        assertEquals(43, ProtoReader.field(r.readTag()));
        assertEquals(5, r.readVarint());
    }

    @Test
    void stringsFloatsMessagesAndSkips() {
        // field 2 string "testing"; field 2 float 1.5f (0x3FC00000); field 3 fixed64 skipped; field 4 message {1: 7}
        byte[] b = bytes(0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g',
                0x15, 0x00, 0x00, 0xC0, 0x3F,
                0x19, 1, 2, 3, 4, 5, 6, 7, 8,
                0x22, 0x02, 0x08, 0x07);
        ProtoReader r = new ProtoReader(b, "t");
        r.readTag();
        assertEquals("testing", r.readString());
        int t = r.readTag();
        assertEquals(ProtoReader.FIXED32, ProtoReader.wireType(t));
        assertEquals(1.5f, r.readFloat());
        t = r.readTag();
        assertEquals(ProtoReader.FIXED64, ProtoReader.wireType(t));
        r.skip(t);
        t = r.readTag();
        assertEquals(4, ProtoReader.field(t));
        ProtoReader sub = r.readMessage();
        assertEquals(25, sub.offset());
        sub.readTag();
        assertEquals(7, sub.readVarint());
        assertFalse(sub.hasMore());
        assertFalse(r.hasMore());
    }

    @Test
    void errorsNameSourceAndOffset() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ProtoReader(bytes(0x96, 0x81), "f.model").readVarint());
        assertEquals("f.model: corrupt protobuf at byte offset 0: truncated varint", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> {
            ProtoReader r = new ProtoReader(bytes(0x08, 0x01, 0x12, 0x05, 'a'), "f.model");
            r.readTag();
            r.readVarint();
            r.readTag();
            r.readString();
        });
        assertEquals("f.model: corrupt protobuf at byte offset 3: length 5 runs past the end of its message (1 bytes left)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ProtoReader(bytes(0x00), "f.model").readTag());
        assertEquals("f.model: corrupt protobuf at byte offset 0: invalid tag 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ProtoReader(bytes(0x0B), "f.model").readTag());
        assertTrue(e.getMessage().contains("unsupported wire type 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> {
            ProtoReader r = new ProtoReader(bytes(0x0A, 0x02, 0xC3, 0x28), "f.model");
            r.readTag();
            r.readString();
        });
        assertEquals("f.model: corrupt protobuf at byte offset 1: string is not valid UTF-8", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new ProtoReader(bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), "f.model").readVarint());
        assertTrue(e.getMessage().contains("varint longer than 10 bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> {
            ProtoReader r = new ProtoReader(bytes(0x0D, 0x01, 0x02), "f.model");
            int t = r.readTag();
            r.expect(t, ProtoReader.LEN);
        });
        assertTrue(e.getMessage().contains("field 1 has wire type 5, expected 2"), e.getMessage());
    }
}
