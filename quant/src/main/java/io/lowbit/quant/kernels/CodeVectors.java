package io.lowbit.quant.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decodes 8 consecutive packed codes into 8 int lanes. Eight codes of b bits are exactly b bytes of the
 * little-endian bit stream, so one scalar load of those bytes, broadcast to the lanes, shifted right by
 * (0, b, 2b, ...) and masked gives the codes in order; 8-bit codes take two 32-bit words, blended into
 * the low and high four lanes. The scalar load is the only width-dependent step, so one compiled loop
 * serves every width without merging vectors from different branches (which would defeat the JIT's
 * vector unboxing). Chunks must start at a code index that is a multiple of 8 (a byte boundary).
 */
final class CodeVectors {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    static final int LANES = 8;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final IntVector SHIFT4 = makeShifts(4);
    private static final VectorMask<Integer> HIGH_LANES = VectorMask.fromLong(I, 0xf0);

    private CodeVectors() {}

    private static final IntVector[] SHIFTS = {null, null, makeShifts(2), makeShifts(3), makeShifts(4), null, null, null, makeShifts(8)};

    /** Per-lane right shifts for {@code bits}-bit codes: (0, b, ..., 7b), or (0, 8, 16, 24) twice for bytes. */
    static IntVector shifts(int bits) {
        return SHIFTS[bits];
    }

    private static IntVector makeShifts(int bits) {
        int[] s = new int[LANES];
        for (int i = 0; i < LANES; i++) s[i] = bits == 8 ? 8 * (i % 4) : bits * i;
        return IntVector.fromArray(I, s, 0);
    }

    /** The {@code bits} bytes holding 8 codes, little-endian, in the low bits of a long. */
    static long word(MemorySegment seg, long byteOff, int bits) {
        return switch (bits) {
            case 4 -> seg.get(INT_LE, byteOff) & 0xffffffffL;
            case 2 -> seg.get(SHORT_LE, byteOff) & 0xffffL;
            case 3 -> (seg.get(SHORT_LE, byteOff) & 0xffffL) | (seg.get(ValueLayout.JAVA_BYTE, byteOff + 2) & 0xffL) << 16;
            default -> seg.get(LONG_LE, byteOff);
        };
    }

    /** The 8 codes of {@code bits} bits whose bytes start at {@code byteOff}; {@code shifts} = {@link #shifts(int)}. */
    static IntVector codes8(MemorySegment seg, long byteOff, int bits, IntVector shifts) {
        long word = word(seg, byteOff, bits);
        int lo = (int) word, hi = bits == 8 ? (int) (word >>> 32) : lo;
        return IntVector.broadcast(I, lo).blend(IntVector.broadcast(I, hi), HIGH_LANES)
                .lanewise(VectorOperators.LSHR, shifts).and((1 << bits) - 1);
    }

    /** 8 nibble codes from 4 bytes. */
    static IntVector codes4(MemorySegment seg, long byteOff) {
        return IntVector.broadcast(I, seg.get(INT_LE, byteOff)).lanewise(VectorOperators.LSHR, SHIFT4).and(15);
    }

    /** Codes as floats. */
    static FloatVector toFloat(IntVector codes) {
        return (FloatVector) codes.convertShape(VectorOperators.I2F, F, 0);
    }
}
