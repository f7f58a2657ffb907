package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Exact conversions for known bit patterns: bf16/f16 round-to-nearest-even, specials, saturation. */
class DTypeConversionTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after DTypeConversionTest"); }

    private static float f(int bits) { return Float.intBitsToFloat(bits); }

    private static int bf16(int floatBits) { return Half.toBF16(f(floatBits)) & 0xffff; }

    private static int f16(float v) { return Half.toF16(v) & 0xffff; }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3F80, bf16(0x3F800000)); // 1.0 exact
        assertEquals(0x3F80, bf16(0x3F808000)); // tie, lower is even -> down
        assertEquals(0x3F82, bf16(0x3F818000)); // tie, lower is odd -> up
        assertEquals(0x3F81, bf16(0x3F808001)); // just above the tie -> up
        assertEquals(0x3F80, bf16(0x3F807FFF)); // just below -> down
        assertEquals(0xBF82, bf16(0xBF818000)); // negative tie -> even
        assertEquals(0x7F80, bf16(0x7F7FFFFF)); // max float rounds to +inf
        assertEquals(0xFF80, bf16(0xFF7FFFFF));
        assertEquals(0x7F7F, bf16(0x7F7F7FFF)); // largest value that stays finite
    }

    @Test
    void bf16Specials() {
        assertEquals(0x7F80, bf16(0x7F800000));
        assertEquals(0xFF80, bf16(0xFF800000));
        assertEquals(0x0000, bf16(0x00000000));
        assertEquals(0x8000, bf16(0x80000000));
        // NaNs stay NaN (never rounded into infinity), are quiet, keep their sign
        for (int nan : new int[] {0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0xFF800001, 0x7F80FFFF}) {
            int h = bf16(nan);
            assertTrue(Float.isNaN(Half.fromBF16((short) h)), Integer.toHexString(nan));
            assertEquals(0x0040, h & 0x0040, "quiet bit of " + Integer.toHexString(nan));
            assertEquals(nan >>> 31, h >>> 15, "sign of " + Integer.toHexString(nan));
        }
        // float subnormals survive (bf16 has float's exponent range)
        assertEquals(0x0001, bf16(0x00010000));
        assertEquals(0x0002, bf16(0x00018000)); // subnormal tie, odd -> up
        assertEquals(0x0000, bf16(0x00008000)); // subnormal tie, even -> down
        assertEquals(0x0080, bf16(0x007FFFFF)); // largest subnormal rounds up to smallest normal
    }

    @Test
    void bf16AndF16ToFloatAreExact() {
        for (int h = 0; h < 0x10000; h++) {
            float b = Half.fromBF16((short) h);
            if (((h >>> 7) & 0xff) == 0xff && (h & 0x7f) != 0) assertTrue(Float.isNaN(b));
            else {
                assertEquals(h << 16, Float.floatToRawIntBits(b), Integer.toHexString(h));
                assertEquals(h, bf16(h << 16), "bf16 round trip " + Integer.toHexString(h));
            }
            float g = Half.fromF16((short) h);
            if (((h >>> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0) assertTrue(Float.isNaN(g));
            else assertEquals(h, f16(g), "f16 round trip " + Integer.toHexString(h));
        }
        assertEquals(65504f, Half.fromF16((short) 0x7BFF));
        assertEquals(0x1p-24f, Half.fromF16((short) 0x0001));
        assertEquals(-2f, Half.fromF16((short) 0xC000));
    }

    @Test
    void f16RoundsToNearestEvenAndOverflows() {
        assertEquals(0x3C00, f16(1f));
        assertEquals(0x3C00, f16(1f + 0x1p-11f)); // tie, even -> down
        assertEquals(0x3C02, f16(1f + 3 * 0x1p-11f)); // tie, odd -> up
        assertEquals(0x7BFF, f16(65504f));
        assertEquals(0x7BFF, f16(65519f)); // below the midpoint to 65536 -> max finite
        assertEquals(0x7C00, f16(65520f)); // the midpoint ties to even = inf
        assertEquals(0xFC00, f16(-65520f));
        assertEquals(0x7C00, f16(1e10f));
        assertEquals(0x7C00, f16(Float.POSITIVE_INFINITY));
        assertEquals(0xFC00, f16(Float.NEGATIVE_INFINITY));
        assertEquals(0x0000, f16(0f));
        assertEquals(0x8000, f16(-0f));
        // subnormal range: multiples of 2^-24
        assertEquals(0x0001, f16(0x1p-24f));
        assertEquals(0x0000, f16(0x1p-25f)); // tie with 0 -> even (0)
        assertEquals(0x0001, f16(0x1.8p-25f)); // above the tie -> 1
        assertEquals(0x0002, f16(0x1.8p-24f)); // 1.5 ulp: tie, odd -> up to 2
        assertEquals(0x03FF, f16(0x3FFp-24f)); // largest subnormal
        assertEquals(0x0400, f16(0x1p-14f)); // smallest normal
        assertEquals(0x8001, f16(-0x1p-24f));
        for (int nan : new int[] {0x7F800001, 0x7FC00000, 0xFF800001, 0x7F802000}) {
            int h = f16(f(nan));
            assertTrue(Float.isNaN(Half.fromF16((short) h)), Integer.toHexString(nan) + " -> " + Integer.toHexString(h));
            assertEquals(0x0200, h & 0x0200, "quiet bit of " + Integer.toHexString(nan) + " -> " + Integer.toHexString(h));
            assertEquals(nan >>> 31, h >>> 15);
        }
    }

    @Test
    void tensorConversionsMatchHalfAndSaturateIntegers() {
        Random r = new Random(40);
        try (var scope = MemoryScope.open()) {
            int n = 1000;
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 4));
            v[0] = Float.NaN; v[1] = 65520f; v[2] = -0f; v[3] = Float.intBitsToFloat(0x3F808000);
            Tensor x = Tensor.of(v, 10, 100);
            Tensor xt = x.t(); // the strided conversion path must agree with the contiguous one
            for (DType to : new DType[] {DType.BF16, DType.F16}) {
                Tensor h = x.to(to), ht = xt.to(to);
                for (int i = 0; i < n; i++) {
                    short want = to == DType.BF16 ? Half.toBF16(v[i]) : Half.toF16(v[i]);
                    short got = h.segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i);
                    assertEquals(want, got, to + " at " + i + " of " + v[i]);
                    assertEquals(Float.floatToIntBits((float) h.getDouble(i)), Float.floatToIntBits((float) ht.t().getDouble(i)), to + " strided at " + i);
                }
                Tensor back = h.to(DType.F32);
                for (int i = 0; i < n; i++)
                    assertEquals(Float.floatToIntBits(to == DType.BF16 ? Half.fromBF16(Half.toBF16(v[i])) : Half.fromF16(Half.toF16(v[i]))),
                            Float.floatToIntBits(back.getFloat(i)), "back to F32 at " + i);
            }
            double[] ints = {-1e12, -129, -128.5, -127.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5, 127.5, 254.5, 255.5, 300, 1e12, Double.NaN, 3e9, -3e9};
            Tensor d = Tensor.of(ints, ints.length);
            assertArrayEquals(new int[] {-128, -128, -128, -128, -2, -2, 0, 0, 2, 2, 126, 127, 127, 127, 127, 127, 0, 127, -128},
                    d.to(DType.I8).toIntArray());
            assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 126, 128, 254, 255, 255, 255, 0, 255, 0},
                    d.to(DType.U8).toIntArray());
            assertArrayEquals(new int[] {Integer.MIN_VALUE, -129, -128, -128, -2, -2, 0, 0, 2, 2, 126, 128, 254, 256, 300, Integer.MAX_VALUE, 0,
                    Integer.MAX_VALUE, Integer.MIN_VALUE}, d.to(DType.I32).toIntArray());
            Tensor u = Tensor.of(new int[] {255, 0, 128}, 3).to(DType.U8);
            assertArrayEquals(new double[] {255, 0, 128}, u.to(DType.F64).toDoubleArray());
            assertArrayEquals(new double[] {127, 0, 127}, u.to(DType.I8).toDoubleArray()); // saturates, no wrap-around
        }
    }

    @Test
    void doubleSourcesRoundOnce() {
        // regression: F64 -> BF16/F16 rounded to float first; a value just above a tie became the tie, then went to even
        double aboveTie = 1 + 0x1p-8 + 0x1p-30; // bf16 tie between 1 and 1 + 2^-7 is 1 + 2^-8
        assertEquals(0x3F81, Half.toBF16(aboveTie) & 0xffff);
        assertEquals(0x3F80, Half.toBF16(1 + 0x1p-8) & 0xffff); // the exact tie still goes to even
        assertEquals(0x3F80, Half.toBF16(1 + 0x1p-8 - 0x1p-40) & 0xffff);
        double f16AboveTie = 1 + 0x1p-11 + 0x1p-40; // f16 tie between 1 and 1 + 2^-10
        assertEquals(0x3C01, Half.toF16(f16AboveTie) & 0xffff);
        assertEquals(0x7BFF, Half.toF16(65519.99) & 0xffff);
        assertEquals(0x7C00, Half.toF16(65520.0) & 0xffff);
        assertEquals(0x7C00, Half.toF16(1e300) & 0xffff);
        assertEquals(0x7F80, Half.toBF16(1e300) & 0xffff);
        assertEquals(0x0001, Half.toF16(0x1p-25 + 0x1p-60) & 0xffff); // above the subnormal tie with 0
        assertTrue(Float.isNaN(Half.fromBF16(Half.toBF16(Double.NaN))));
        try (var scope = MemoryScope.open()) {
            Tensor d = Tensor.of(new double[] {aboveTie, f16AboveTie}, 2);
            assertEquals(0x3F81, d.to(DType.BF16).segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 0) & 0xffff);
            assertEquals(0x3C01, d.to(DType.F16).segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 1) & 0xffff);
        }
        // round-to-odd agrees with direct rounding on random doubles (checked against BigDecimal-free exact logic:
        // a float-exact double must give the float path's answer)
        java.util.Random r = new java.util.Random(41);
        for (int i = 0; i < 10000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f)) continue;
            assertEquals(Half.toBF16(f), Half.toBF16((double) f));
            assertEquals(Half.toF16(f), Half.toF16((double) f));
        }
    }

    /** Exact round-to-nearest-even of |d| among candidate codes near the guess, by BigDecimal distance. */
    private static int exactRound(double d, int guess, boolean bf) {
        java.math.BigDecimal a = new java.math.BigDecimal(Math.abs(d));
        int infCode = bf ? 0x7F80 : 0x7C00;
        java.math.BigDecimal infAsValue = bf ? new java.math.BigDecimal(Math.scalb(1.0, 128)) : new java.math.BigDecimal(65536);
        int best = -1;
        java.math.BigDecimal bestDist = null;
        for (int c = Math.max(0, guess - 2); c <= Math.min(infCode, guess + 2); c++) {
            java.math.BigDecimal v = c == infCode ? infAsValue
                    : new java.math.BigDecimal(bf ? Half.fromBF16((short) c) : Half.fromF16((short) c));
            java.math.BigDecimal dist = v.subtract(a).abs();
            int cmp = bestDist == null ? -1 : dist.compareTo(bestDist);
            if (cmp < 0 || (cmp == 0 && (c & 1) == 0)) { best = c; bestDist = dist; }
        }
        return best | (d < 0 || (d == 0 && 1 / d < 0) ? (bf ? 0x8000 : 0x8000) : 0);
    }

    @Test
    void doubleConversionsAreCorrectlyRounded() {
        java.util.Random r = new java.util.Random(42);
        for (int i = 0; i < 20000; i++) {
            // doubles near 16-bit codes, their midpoints, and random tails below float precision
            double d = Float.intBitsToFloat(r.nextInt() & 0x7fffffff) * (r.nextBoolean() ? 1 : -1);
            if (Double.isNaN(d) || Double.isInfinite(d)) continue;
            d = d * (1 + (r.nextDouble() - 0.5) * 0x1p-20);
            if (r.nextInt(4) == 0) d = Math.scalb(r.nextDouble() * 4, r.nextInt(40) - 30); // f16's range
            int bfGuess = Half.toBF16((float) Math.abs(d)) & 0x7fff, hGuess = Half.toF16((float) Math.abs(d)) & 0x7fff;
            assertEquals(exactRound(d, bfGuess, true), Half.toBF16(d) & 0xffff, "bf16 of " + d);
            assertEquals(exactRound(d, hGuess, false), Half.toF16(d) & 0xffff, "f16 of " + d);
        }
    }

    @Test
    void every16BitCodeWidensExactlyOnTheFastAndStridedPaths() {
        try (var scope = MemoryScope.open()) {
            for (DType dt : new DType[] {DType.BF16, DType.F16}) {
                Tensor h = Tensor.empty(dt, 256, 256);
                for (int i = 0; i < 65536; i++) h.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) i);
                float[] fast = h.to(DType.F32).toFloatArray();
                Tensor strided = h.t().to(DType.F32); // transposed source: the generic per-element path
                for (int i = 0; i < 65536; i++) {
                    float want = dt == DType.BF16 ? Half.fromBF16((short) i) : Half.fromF16((short) i);
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(fast[i]), dt + " code " + Integer.toHexString(i));
                    float s = strided.getFloat((long) (i % 256) * 256 + i / 256);
                    assertTrue(Float.isNaN(want) ? Float.isNaN(s) : Float.floatToRawIntBits(want) == Float.floatToRawIntBits(s),
                            dt + " strided code " + Integer.toHexString(i));
                }
            }
        }
    }

    @Test
    void safetensorsNames() {
        for (DType d : DType.values()) assertEquals(d, DType.fromSafetensors(d.safetensorsName()));
        var e = assertThrows(IllegalArgumentException.class, () -> DType.fromSafetensors("F8_E4M3"));
        assertTrue(e.getMessage().contains("F8_E4M3"));
    }
}
