package io.lowbit.quant.kernels;

import io.lowbit.quant.nf4.Nf4;
import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.quant.pack.BitPacking;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast GEMV row kernels on the preferred vector species for 2-, 3- and 4-bit codes (affine and NF4):
 * every group or block has a table T[q] = ŵ(q) (s·(q − z), or level[q]·absmax), and a row is
 * Σ T[q_c]·x[c]. (8-bit codes are simply widened: L codes per step, no table.)
 *
 * <p>One step fills L int lanes (L = float lanes of the preferred species, 16 with AVX-512) with P
 * consecutive codes each: one byte per lane for 4-bit (P = 2) and 2-bit (P = 4) codes, three bytes per
 * lane for 3-bit codes (P = 8, bytes spread with a lane shuffle). Phase p of every lane,
 * (lane >>> p·b) & (2^b − 1), is looked up in T with a lane permute and multiplied with x split once
 * per call into its P phases x_p[k] = x[k·P + p]. Table values are computed exactly as the dequantizer
 * computes them, so the result equals the dense dot product with the dequantized weight up to
 * summation order.
 */
final class LutKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** True when this machine's vectors have 8 or 16 float lanes (otherwise callers use the 8-code path). */
    static final boolean USABLE = L == 8 || L == 16;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Byte> B1 = USABLE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final VectorSpecies<Byte> B4 = USABLE ? VectorSpecies.of(byte.class, F.vectorShape()) : null;
    /** Byte 4i + j of the widened vector takes byte 3i + j of the packed 3-bit stream (j = 3 is don't-care). */
    private static final VectorShuffle<Byte> TRIPLES = USABLE ? VectorShuffle.fromOp(B4, i -> 3 * (i / 4) + Math.min(i % 4, 2)) : null;
    private static final VectorMask<Byte> FIRST_3L = USABLE ? B4.indexInRange(0, 3 * L) : null;
    private static final FloatVector IOTA = FloatVector.fromArray(F, new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final FloatVector IOTA_HI = FloatVector.fromArray(F, new float[] {8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0}, 0);
    private static final FloatVector LEVELS = FloatVector.fromArray(F, Nf4.levels(), 0);
    private static final FloatVector LEVELS_HI = FloatVector.fromArray(F, java.util.Arrays.copyOfRange(Nf4.levels(), 8, 24), 0);

    private LutKernels() {}

    /** Codes per int lane: 2 for 4-bit, 4 for 2-bit, 8 for 3-bit, 1 for 8-bit. */
    static int phases(int bits) {
        return bits == 3 ? 8 : 8 / bits;
    }

    /** Codes per step. */
    static int step(int bits) {
        return phases(bits) * L;
    }

    /** The P phases of x: xp[p][k] = x[k·P + p] (zero past the end). */
    static float[][] split(float[] x, int phases) {
        int n = (x.length + phases - 1) / phases;
        float[][] xp = new float[phases][n];
        for (int c = 0; c < x.length; c++) xp[c % phases][c / phases] = x[c];
        return xp;
    }

    private static FloatVector lookup(IntVector idx, IntVector t0, IntVector t1, boolean twoTables) {
        return (twoTables ? idx.selectFrom(t0, t1) : idx.selectFrom(t0)).reinterpretAsFloats();
    }

    /** L bytes widened to L int lanes (sign-extended; callers mask). */
    private static IntVector loadBytes(MemorySegment codes, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B1, codes, off, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0);
    }

    /** 3L bytes spread to L int lanes of 3 bytes each (the fourth byte is garbage above bit 23). */
    private static IntVector loadTriples(MemorySegment codes, long off) {
        return ByteVector.fromMemorySegment(B4, codes, off, ByteOrder.LITTLE_ENDIAN, FIRST_3L).rearrange(TRIPLES).reinterpretAsInts();
    }

    /** True when every group of {@code w} starts on a step boundary. */
    static boolean eligible(AffineQuantizedTensor w) {
        int b = w.bits();
        return USABLE && (b == 2 || b == 3 || b == 4 || b == 8) && !w.hasGroupIndex() && (w.numGroups() == 1 || w.groupCols() % step(b) == 0);
    }

    /** y[r] for rows lo ≤ r &lt; hi of an affine GEMV (requires {@link #eligible}); xp = {@link #split}(x, phases(bits)). */
    static void affineRows(AffineQuantizedTensor w, int lo, int hi, float[] x, float[][] xp, float[] y) {
        Scratch sc = w.bits() == 4 && wide4(w) ? new Scratch(w.cols() / WIDE4) : null;
        for (int r = lo; r < hi; r++) y[r] = sc != null ? affineRow4Wide(w, r, xp[0], xp[1], sc) : affineRow(w, r, x, xp);
    }

    /** Row r of an affine GEMV outside the wide 4-bit loop. */
    private static float affineRow(AffineQuantizedTensor w, int r, float[] x, float[][] xp) {
        // one copy of the loop per width, with constant shifts and masks: a vector chosen by a branch
        // inside the loop would be merged from two paths, which the JIT cannot keep in registers
        return switch (w.bits()) {
            case 4 -> affineRow4(w, r, x, xp);
            case 2 -> affineRow2(w, r, x, xp);
            case 8 -> affineRow8(w, r, x);
            default -> affineRowTriples(w, r, x, xp);
        };
    }

    /** Codes per iteration of the wide 4-bit loops: four 32-code steps under one table. */
    static final int WIDE4 = 128;

    // the wide loops run only where vectors have 16 float lanes, so they name the 512-bit species directly
    private static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;
    private static final FloatVector IOTA16 = FloatVector.fromArray(F16, new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final FloatVector LEVELS16 = FloatVector.fromArray(F16, Nf4.levels(), 0);

    /** 16 bytes widened to the 16 int lanes of a 512-bit vector (sign-extended; callers mask). */
    private static IntVector loadBytes16(MemorySegment codes, long off) {
        return (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, codes, off, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, IntVector.SPECIES_512, 0);
    }

    /**
     * Per-row scratch of the wide loops, one per run of rows: a float per unit (a 128-code unit's scale, or a
     * 64-code NF4 block's absmax) and a byte per unit (the unit's zero point).
     */
    static final class Scratch {
        final float[] s;
        final byte[] z;

        Scratch(int units) {
            s = new float[units];
            z = new byte[units];
        }
    }

    /**
     * The wide 4-bit loop applies: 16-lane vectors, and every 128-code unit of a row inside one group (whole
     * rows of 128-multiples, groups of 128-multiples or one group per row).
     */
    private static boolean wide4(AffineQuantizedTensor w) {
        return L == 16 && w.cols() % WIDE4 == 0 && w.groupCols() % WIDE4 == 0;
    }

    private static float affineRow4(AffineQuantizedTensor w, int r, float[] x, float[][] xp) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), gc = w.groupCols(), ng = w.numGroups(), step = 2 * L;
        boolean two = 16 > L;
        long base = (long) r * w.rowBytes();
        float[] xe = xp[0], xo = xp[1];
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            // T[q] = s·(q − z), exactly the dequantized values
            IntVector t0 = IOTA.sub((float) z).mul(s).reinterpretAsInts();
            IntVector t1 = two ? IOTA_HI.sub((float) z).mul(s).reinterpretAsInts() : t0;
            int c = c0;
            for (; c + step <= c1; c += step) {
                IntVector v = loadBytes(codes, base + c / 2);
                int k = c / 2;
                acc0 = lookup(v.and(15), t0, t1, two).fma(FloatVector.fromArray(F, xe, k), acc0);
                acc1 = lookup(v.lanewise(VectorOperators.LSHR, 4).and(15), t0, t1, two).fma(FloatVector.fromArray(F, xo, k), acc1);
            }
            for (; c < c1; c++) rest += s * (float) (BitPacking.get(codes, base, c, 4) - z) * x[c];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + rest;
    }

    /**
     * {@link #affineRow4} for {@link #wide4} weights: one iteration per 128 codes (64 bytes), one table
     * T[q] = s·(q − z) per iteration and eight accumulators. On a 4096×11008 int4 g128 weight this is
     * 1.4–1.8× the 32-code loop (short per-group inner loops, and the scale and zero read through
     * accessors, cost more than the decoding); the loop body is hand-unrolled and holds exactly one table:
     * a second table in the same iteration (two 64-code groups) made C2 box vectors and run 2–5× slower.
     */
    private static float affineRow4Wide(AffineQuantizedTensor w, int r, float[] xe, float[] xo, Scratch sc) {
        MemorySegment codes = w.codeSegment(), scales = w.scaleSegment(), zeros = w.zeroSegment();
        int units = w.cols() / WIDE4, perGroup = w.groupCols() / WIDE4, ng = w.numGroups();
        long base = (long) r * w.rowBytes(), sg = (long) w.scaleRow(r) * ng;
        // each unit's scale and zero point, copied before the loop (bulk copies when a unit is a group): the
        // loop then indexes plain arrays by u; reading the segments inside it ran 2.3x slower (6.4 against
        // 2.8 ms on 4096x11008: C2 then boxes the vectors)
        float[] su = sc.s;
        byte[] zu = sc.z;
        if (perGroup == 1) {
            MemorySegment.copy(scales, ValueLayout.JAVA_FLOAT, 4 * sg, su, 0, units);
            if (zeros != null) MemorySegment.copy(zeros, ValueLayout.JAVA_BYTE, sg, zu, 0, units);
            else java.util.Arrays.fill(zu, 0, units, (byte) 8); // symmetric: z = 2^(bits−1)
        } else {
            for (int g = 0, u = 0; g < ng; g++) {
                float sv = scales.getAtIndex(ValueLayout.JAVA_FLOAT, sg + g);
                byte zv = zeros == null ? 8 : zeros.get(ValueLayout.JAVA_BYTE, sg + g);
                for (int e = Math.min(units, u + perGroup); u < e; u++) {
                    su[u] = sv;
                    zu[u] = zv;
                }
            }
        }
        return wide4Loop(codes, base, units, xe, xo, su, zu);
    }

    /** The loop of {@link #affineRow4Wide}, alone in its method (C2 compiles it well only so). */
    private static float wide4Loop(MemorySegment codes, long base, int units, float[] xe, float[] xo, float[] su, byte[] zu) {
        FloatVector a0 = FloatVector.zero(F16), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int u = 0; u < units; u++) {
            IntVector t = IOTA16.sub((float) (zu[u] & 0xff)).mul(su[u]).reinterpretAsInts(); // T[q] = s·(q − z), exactly the dequantized values
            long o = base + (long) u * (WIDE4 / 2);
            int k = u * (WIDE4 / 2);
            IntVector v = loadBytes16(codes, o);
            a0 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k), a0);
            a1 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k), a1);
            v = loadBytes16(codes, o + 16);
            a2 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k + 16), a2);
            a3 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k + 16), a3);
            v = loadBytes16(codes, o + 32);
            a4 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k + 32), a4);
            a5 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k + 32), a5);
            v = loadBytes16(codes, o + 48);
            a6 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k + 48), a6);
            a7 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k + 48), a7);
        }
        return a0.add(a1).add(a2.add(a3)).add(a4.add(a5).add(a6.add(a7))).reduceLanes(VectorOperators.ADD);
    }

    private static float affineRow2(AffineQuantizedTensor w, int r, float[] x, float[][] xp) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), gc = w.groupCols(), ng = w.numGroups(), step = 4 * L;
        long base = (long) r * w.rowBytes();
        float[] x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            IntVector t = IOTA.sub((float) z).mul(s).reinterpretAsInts(); // T[q] = s·(q − z), 4 entries
            int c = c0;
            for (; c + step <= c1; c += step) {
                IntVector v = loadBytes(codes, base + c / 4);
                int k = c / 4;
                acc0 = lookup(v.and(3), t, t, false).fma(FloatVector.fromArray(F, x0, k), acc0);
                acc1 = lookup(v.lanewise(VectorOperators.LSHR, 2).and(3), t, t, false).fma(FloatVector.fromArray(F, x1, k), acc1);
                acc0 = lookup(v.lanewise(VectorOperators.LSHR, 4).and(3), t, t, false).fma(FloatVector.fromArray(F, x2, k), acc0);
                acc1 = lookup(v.lanewise(VectorOperators.LSHR, 6).and(3), t, t, false).fma(FloatVector.fromArray(F, x3, k), acc1);
            }
            for (; c < c1; c++) rest += s * (float) (BitPacking.get(codes, base, c, 2) - z) * x[c];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + rest;
    }

    /** 8-bit codes need no table: L codes widen to L lanes, ŵ = (q − z)·s, one FMA with x. */
    private static float affineRow8(AffineQuantizedTensor w, int r, float[] x) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), gc = w.groupCols(), ng = w.numGroups();
        long base = (long) r * w.rowBytes();
        FloatVector acc = FloatVector.zero(F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            FloatVector zv = FloatVector.broadcast(F, (float) z), sv = FloatVector.broadcast(F, s);
            int c = c0;
            for (; c + L <= c1; c += L) {
                FloatVector q = (FloatVector) loadBytes(codes, base + c).and(0xff).convertShape(VectorOperators.I2F, F, 0);
                acc = q.sub(zv).mul(sv).fma(FloatVector.fromArray(F, x, c), acc);
            }
            for (; c < c1; c++) rest += s * (float) (BitPacking.get(codes, base, c, 8) - z) * x[c];
        }
        return acc.reduceLanes(VectorOperators.ADD) + rest;
    }

    private static float affineRowTriples(AffineQuantizedTensor w, int r, float[] x, float[][] xp) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), gc = w.groupCols(), ng = w.numGroups(), step = 8 * L;
        long base = (long) r * w.rowBytes();
        FloatVector acc = FloatVector.zero(F), acc2 = FloatVector.zero(F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            IntVector t0 = IOTA.sub((float) z).mul(s).reinterpretAsInts(); // T[q] = s·(q − z), 8 entries
            int c = c0;
            for (; c + step <= c1; c += step) {
                IntVector v = loadTriples(codes, base + (long) c * 3 / 8);
                int k = c / 8;
                for (int p = 0; p < 8; p += 2) { // a loop, not unrolled by hand: keeps the method within the JIT's inlining budget
                    acc = lookup(v.lanewise(VectorOperators.LSHR, 3 * p).and(7), t0, t0, false).fma(FloatVector.fromArray(F, xp[p], k), acc);
                    acc2 = lookup(v.lanewise(VectorOperators.LSHR, 3 * p + 3).and(7), t0, t0, false).fma(FloatVector.fromArray(F, xp[p + 1], k), acc2);
                }
            }
            for (; c < c1; c++) rest += s * (float) (BitPacking.get(codes, base, c, 3) - z) * x[c];
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD) + rest;
    }

    /** True when every row of {@code w} starts on a step boundary of the flat code stream. */
    static boolean eligible(Nf4Tensor w) {
        return USABLE && w.cols() % step(4) == 0 && w.blockSize() % step(4) == 0;
    }

    /** y[r] for rows lo ≤ r &lt; hi of an NF4 GEMV (requires {@link #eligible}); xp = {@link #split}(x, 2). */
    static void nf4Rows(Nf4Tensor w, int lo, int hi, float[][] xp, float[] y) {
        Scratch sc = L == 16 && w.blockSize() == 64 && w.cols() % 64 == 0 ? new Scratch(w.cols() / 64) : null;
        for (int r = lo; r < hi; r++) y[r] = sc != null ? nf4Row64(w, r, xp[0], xp[1], sc) : nf4Row(w, r, xp);
    }

    /** Row r of an NF4 GEMV outside the block-64 loop. */
    private static float nf4Row(Nf4Tensor w, int r, float[][] xp) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), bs = w.blockSize(), step = step(4);
        boolean two = 16 > L;
        long e0 = (long) r * cols;
        float[] xe = xp[0], xo = xp[1];
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int b0 = (int) (e0 / bs), left = bs - (int) (e0 % bs); // current block and codes left in it
        float[] amax = new float[(cols + bs - 1) / bs + 1];
        w.absmax(b0, Math.min(amax.length, w.numBlocks() - b0), amax);
        int bi = 0;
        // T[q] = level[q]·absmax, exactly the dequantized values
        IntVector t0 = LEVELS.mul(amax[0]).reinterpretAsInts(), t1 = two ? LEVELS_HI.mul(amax[0]).reinterpretAsInts() : t0;
        for (int c = 0; c < cols; c += step) {
            if (left == 0) {
                left = bs;
                float a = amax[++bi];
                t0 = LEVELS.mul(a).reinterpretAsInts();
                t1 = two ? LEVELS_HI.mul(a).reinterpretAsInts() : t0;
            }
            IntVector v = loadBytes(codes, (e0 + c) >>> 1);
            int k = c / 2;
            acc0 = lookup(v.and(15), t0, t1, two).fma(FloatVector.fromArray(F, xe, k), acc0);
            acc1 = lookup(v.lanewise(VectorOperators.LSHR, 4).and(15), t0, t1, two).fma(FloatVector.fromArray(F, xo, k), acc1);
            left -= step;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #nf4Row} for QLoRA's block of 64 on whole-block rows: one iteration per block (two 32-code
     * steps under its table T[q] = level[q]·absmax), four accumulators, the row's absmax values decoded
     * once up front. (One table per iteration, as in {@link #affineRow4Wide}: two blocks per iteration
     * with two tables ran 2× slower.)
     */
    private static float nf4Row64(Nf4Tensor w, int r, float[] xe, float[] xo, Scratch sc) {
        int nb = w.cols() / 64;
        w.absmax(r * nb, nb, sc.s);
        return nf4Loop64(w.codeSegment(), (long) r * w.cols() / 2, nb, xe, xo, sc.s);
    }

    /** The loop of {@link #nf4Row64}, alone in its method (see {@link #wide4Loop}). */
    private static float nf4Loop64(MemorySegment codes, long base, int nb, float[] xe, float[] xo, float[] amax) {
        FloatVector a0 = FloatVector.zero(F16), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < nb; b++) {
            IntVector t = LEVELS16.mul(amax[b]).reinterpretAsInts(); // T[q] = level[q]·absmax, exactly the dequantized values
            long o = base + (long) b * 32;
            int k = b * 32;
            IntVector v = loadBytes16(codes, o);
            a0 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k), a0);
            a1 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k), a1);
            v = loadBytes16(codes, o + 16);
            a2 = v.and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xe, k + 16), a2);
            a3 = v.lanewise(VectorOperators.LSHR, 4).and(15).selectFrom(t).reinterpretAsFloats().fma(FloatVector.fromArray(F16, xo, k + 16), a3);
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }
}
