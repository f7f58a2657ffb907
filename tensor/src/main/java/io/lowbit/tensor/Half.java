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

    /** bfloat16 bits → float (exact). */
    public static float fromBF16(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }
}
