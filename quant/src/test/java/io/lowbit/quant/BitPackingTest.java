package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.pack.BitPacking;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class BitPackingTest {
    /** Reference layout written bit by bit: bit k of code i is stream bit i·b + k, LSB-first within bytes. */
    private static byte[] reference(int[] codes, int bits) {
        byte[] out = new byte[(codes.length * bits + 7) / 8];
        for (int i = 0; i < codes.length; i++)
            for (int k = 0; k < bits; k++)
                if (((codes[i] >> k) & 1) != 0) {
                    int bit = i * bits + k;
                    out[bit / 8] |= (byte) (1 << (bit % 8));
                }
        return out;
    }

    @Test
    void everyWidthAndOddLengthIsBitExact() {
        Rng rng = new Rng(7);
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (int len : new int[] {0, 1, 2, 3, 5, 7, 8, 9, 31, 32, 33, 63, 65, 127, 129, 1001}) {
                int[] codes = new int[len];
                for (int i = 0; i < len; i++) codes[i] = rng.nextInt(1 << bits);
                byte[] packed = BitPacking.pack(codes, bits);
                assertEquals((len * bits + 7) / 8, packed.length, bits + "-bit length " + len);
                assertArrayEquals(reference(codes, bits), packed, bits + "-bit layout, length " + len);
                assertArrayEquals(codes, BitPacking.unpack(packed, len, bits), bits + "-bit round trip, length " + len);
            }
        }
    }

    @Test
    void documentedByteOrder() {
        assertArrayEquals(new byte[] {0x21, 0x0f}, BitPacking.pack(new int[] {1, 2, 15}, 4)); // low nibble first
        assertArrayEquals(new byte[] {(byte) 0b00_11_10_01}, BitPacking.pack(new int[] {1, 2, 3, 0}, 2));
        // 3 bits: codes 1..7,0 -> bits 001 010 011 100 101 110 111 000 (LSB first) in 3 bytes
        int[] c3 = {1, 2, 3, 4, 5, 6, 7, 0};
        byte[] p3 = BitPacking.pack(c3, 3);
        assertEquals(3, p3.length);
        assertEquals(0b1101_0001, p3[0] & 0xff);
        assertEquals(0b0101_1000, p3[1] & 0xff);
        assertEquals(0b0001_1111, p3[2] & 0xff);
        assertEquals(12, BitPacking.pack(new int[32], 3).length, "int3 packs 32 values in 12 bytes");
        assertEquals(0x7f, BitPacking.pack(new int[] {0x7f}, 8)[0]);
    }

    @Test
    void overwritingACodeKeepsItsNeighbours() {
        int[] codes = {5, 6, 7, 1, 2, 3, 4, 0, 7};
        byte[] packed = BitPacking.pack(codes, 3);
        var seg = java.lang.foreign.MemorySegment.ofArray(packed);
        BitPacking.put(seg, 0, 2, 3, 0); // code 2 straddles bytes 0 and 1
        codes[2] = 0;
        assertArrayEquals(codes, BitPacking.unpack(packed, codes.length, 3));
    }

    @Test
    void badInputIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> BitPacking.pack(new int[] {16}, 4));
        assertThrows(IllegalArgumentException.class, () -> BitPacking.pack(new int[] {-1}, 8));
        assertThrows(IllegalArgumentException.class, () -> BitPacking.packedBytes(3, 5));
        assertThrows(IllegalArgumentException.class, () -> BitPacking.unpack(new byte[1], 3, 4));
    }
}
