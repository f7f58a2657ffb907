package io.lowbit.tensor;

/**
 * Conversions between float and the two 16-bit float formats, rounding to nearest even.
 * f16 uses the JDK's IEEE binary16 conversions; bf16 keeps the top 16 bits of a float after rounding.
 */
public final class Half {
    private Half() {}

    /** float → IEEE binary16 bits (round to nearest even; NaN stays NaN, overflow goes to ±inf). */
    public static short toF16(float f) {
        if (Float.isNaN(f)) {
            // explicit quiet NaN (sign and top payload bits kept): the JDK's scalar conversion keeps a
            // signaling NaN's payload as is while its intrinsic may quiet it, so pin one answer here
            int bits = Float.floatToRawIntBits(f);
            return (short) (((bits >>> 16) & 0x8000) | 0x7e00 | ((bits >>> 13) & 0x03ff));
        }
        return Float.floatToFloat16(f);
    }

    /** IEEE binary16 bits → float (exact). */
    public static float fromF16(short h) {
        return Float.float16ToFloat(h);
    }

    /** float → bfloat16 bits, round to nearest even; NaN becomes a quiet NaN with the sign kept. */
    public static short toBF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** double → bfloat16 bits, rounded once to nearest even (no double rounding through float). */
    public static short toBF16(double d) {
        return toBF16(toFloatRoundToOdd(d));
    }

    /** double → IEEE binary16 bits, rounded once to nearest even (no double rounding through float). */
    public static short toF16(double d) {
        return toF16(toFloatRoundToOdd(d));
    }

    /**
     * double → float rounding to odd: an inexact result is the odd one of the two bracketing floats. A
     * float keeps at least two more significand bits than bf16/f16, so rounding this to nearest even
     * afterwards equals rounding the double directly (Boldo &amp; Melquiond 2008).
     */
    static float toFloatRoundToOdd(double d) {
        float f = (float) d;
        if (Double.isNaN(d) || (double) f == d) return f;
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 1) == 0) bits += Math.abs((double) f) > Math.abs(d) ? -1 : 1; // step toward d, onto the odd neighbour
        return Float.intBitsToFloat(bits);
    }

    /** bfloat16 bits → float (exact). */
    public static float fromBF16(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }
}
