package io.lowbit.quant.pack;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Packs unsigned integer codes of 2, 3, 4 or 8 bits into a little-endian bit stream (see the package
 * documentation for the exact bit order) and reads them back. Works on Java arrays and, for the
 * quantized tensors, directly on off-heap {@link MemorySegment}s.
 */
public final class BitPacking {
    private BitPacking() {}

    /** Throws unless {@code bits} is one of the supported code widths 2, 3, 4, 8. */
    public static void checkBits(int bits) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            throw new IllegalArgumentException("unsupported code width " + bits + " bits (supported: 2, 3, 4, 8)");
    }

    /** Bytes needed for {@code count} codes of {@code bits} bits: ceil(count·bits / 8). */
    public static long packedBytes(long count, int bits) {
        checkBits(bits);
        if (count < 0) throw new IllegalArgumentException("negative code count " + count);
        return (count * bits + 7) >>> 3;
    }

    /** Packs {@code codes} (each in [0, 2^bits)) into a fresh byte array; unused high bits of the last byte are 0. */
    public static byte[] pack(int[] codes, int bits) {
        byte[] out = new byte[Math.toIntExact(packedBytes(codes.length, bits))];
        MemorySegment seg = MemorySegment.ofArray(out);
        for (int i = 0; i < codes.length; i++) put(seg, 0, i, bits, codes[i]);
        return out;
    }

    /** Unpacks {@code count} codes of {@code bits} bits from {@code packed}. */
    public static int[] unpack(byte[] packed, int count, int bits) {
        if (packedBytes(count, bits) > packed.length)
            throw new IllegalArgumentException(count + " codes of " + bits + " bits need " + packedBytes(count, bits)
                    + " bytes, got " + packed.length);
        MemorySegment seg = MemorySegment.ofArray(packed);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) out[i] = get(seg, 0, i, bits);
        return out;
    }

    /**
     * Writes code {@code index} of the stream starting at byte {@code base} of {@code seg}. Only the
     * code's own bits are changed, so codes may be written in any order.
     */
    public static void put(MemorySegment seg, long base, long index, int bits, int code) {
        int mask = (1 << bits) - 1;
        if ((code & ~mask) != 0)
            throw new IllegalArgumentException("code " + code + " at index " + index + " does not fit in " + bits + " bits");
        long bit = index * bits;
        long at = base + (bit >>> 3);
        int shift = (int) (bit & 7);
        int lo = seg.get(ValueLayout.JAVA_BYTE, at) & 0xff;
        lo = (lo & ~(mask << shift)) | (code << shift);
        seg.set(ValueLayout.JAVA_BYTE, at, (byte) lo);
        if (shift + bits > 8) { // only 3-bit codes straddle a byte boundary
            int hiShift = 8 - shift;
            int hi = seg.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff;
            hi = (hi & ~(mask >>> hiShift)) | (code >>> hiShift);
            seg.set(ValueLayout.JAVA_BYTE, at + 1, (byte) hi);
        }
    }

    /** Reads code {@code index} of the stream starting at byte {@code base} of {@code seg}. */
    public static int get(MemorySegment seg, long base, long index, int bits) {
        long bit = index * bits;
        long at = base + (bit >>> 3);
        int shift = (int) (bit & 7);
        int v = seg.get(ValueLayout.JAVA_BYTE, at) & 0xff;
        if (shift + bits > 8) v |= (seg.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff) << 8;
        return (v >>> shift) & ((1 << bits) - 1);
    }
}
