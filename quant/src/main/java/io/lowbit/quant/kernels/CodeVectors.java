package io.lowbit.quant.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decodes 8 consecutive packed codes into 8 int lanes. Eight codes of b bits are exactly b bytes of the
 * little-endian bit stream, so for b ≤ 4 one scalar load of b bytes, broadcast to 8 lanes, shifted right
 * by (0, b, 2b, ...) and masked gives the codes in order; 8-bit codes are widened from a byte vector.
 * Chunks must start at a code index that is a multiple of 8 (then they start on a byte boundary).
 */
final class CodeVectors {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    static final int LANES = 8;
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final IntVector SHIFT2 = IntVector.fromArray(I, new int[] {0, 2, 4, 6, 8, 10, 12, 14}, 0);
    private static final IntVector SHIFT3 = IntVector.fromArray(I, new int[] {0, 3, 6, 9, 12, 15, 18, 21}, 0);
    private static final IntVector SHIFT4 = IntVector.fromArray(I, new int[] {0, 4, 8, 12, 16, 20, 24, 28}, 0);

    private CodeVectors() {}

    /** The 8 codes whose packed bytes start at {@code byteOff}. */
    static IntVector codes8(MemorySegment seg, long byteOff, int bits) {
        return switch (bits) {
            case 4 -> codes4(seg, byteOff);
            case 2 -> IntVector.broadcast(I, seg.get(SHORT_LE, byteOff) & 0xffff).lanewise(VectorOperators.LSHR, SHIFT2).and(3);
            case 3 -> {
                int word = (seg.get(SHORT_LE, byteOff) & 0xffff) | (seg.get(ValueLayout.JAVA_BYTE, byteOff + 2) & 0xff) << 16;
                yield IntVector.broadcast(I, word).lanewise(VectorOperators.LSHR, SHIFT3).and(7);
            }
            case 8 -> ((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, seg, byteOff, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2I, I, 0)).and(0xff);
            default -> throw new IllegalArgumentException("unsupported code width " + bits);
        };
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
