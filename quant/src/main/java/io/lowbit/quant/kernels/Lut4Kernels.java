package io.lowbit.quant.kernels;

import io.lowbit.quant.nf4.Nf4;
import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.quant.pack.BitPacking;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast GEMV row kernel for 4-bit codes (affine int4 and NF4): every group or block has a 16-entry
 * table T[q] = ŵ(q) (s·(q − z), or level[q]·absmax), and a row is Σ T[q_c]·x[c].
 *
 * <p>One step loads L bytes (2L codes, L = float lanes of the preferred species, 16 with AVX-512),
 * widens them to L int lanes, splits low nibbles (even columns) and high nibbles (odd columns), looks
 * both up in T with a lane permute, and multiplies with x split once per call into its even and odd
 * elements. Table values are computed exactly as the dequantizer computes them, so the result equals
 * the dense dot product with the dequantized weight up to summation order.
 */
final class Lut4Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** True when this machine's vectors have 8 or 16 float lanes (otherwise callers use the 8-code path). */
    static final boolean USABLE = L == 8 || L == 16;
    /** Codes per step. */
    static final int STEP = 2 * L;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Byte> B = USABLE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;

    private static final FloatVector IOTA = FloatVector.fromArray(F, new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    private static final FloatVector IOTA_HI = FloatVector.fromArray(F, new float[] {8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0}, 0);
    private static final FloatVector LEVELS = FloatVector.fromArray(F, Nf4.levels(), 0);
    private static final FloatVector LEVELS_HI = FloatVector.fromArray(F, java.util.Arrays.copyOfRange(Nf4.levels(), 8, 24), 0);

    private Lut4Kernels() {}

    /** Even and odd elements of x: xs[0][k] = x[2k], xs[1][k] = x[2k + 1]. */
    static float[][] split(float[] x) {
        float[] even = new float[(x.length + 1) / 2], odd = new float[x.length / 2 + 1];
        for (int k = 0; 2 * k < x.length; k++) {
            even[k] = x[2 * k];
            if (2 * k + 1 < x.length) odd[k] = x[2 * k + 1];
        }
        return new float[][] {even, odd};
    }

    private static FloatVector lookup(IntVector idx, IntVector t0, IntVector t1) {
        return (L == 16 ? idx.selectFrom(t0) : idx.selectFrom(t0, t1)).reinterpretAsFloats();
    }

    /** The 2L codes of one step at byte {@code off}, widened to L int lanes (two codes per lane). */
    private static IntVector load(MemorySegment codes, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, codes, off, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0);
    }

    /** True when every group of {@code w} starts on a step boundary. */
    static boolean eligible(AffineQuantizedTensor w) {
        return USABLE && w.bits() == 4 && !w.hasGroupIndex() && (w.numGroups() == 1 || w.groupCols() % STEP == 0);
    }

    /** Row r of an int4 affine GEMV (requires {@link #eligible}). */
    static float affineRow(AffineQuantizedTensor w, int r, float[] x, float[][] xs) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), gc = w.groupCols(), ng = w.numGroups();
        long base = (long) r * w.rowBytes();
        float[] xe = xs[0], xo = xs[1];
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            // T[q] = s·(q − z), exactly the dequantized values
            IntVector t0 = IOTA.sub((float) z).mul(s).reinterpretAsInts();
            IntVector t1 = L == 16 ? t0 : IOTA_HI.sub((float) z).mul(s).reinterpretAsInts();
            int c = c0;
            for (; c + STEP <= c1; c += STEP) {
                IntVector v = load(codes, base + c / 2);
                int k = c / 2;
                acc0 = lookup(v.and(15), t0, t1).fma(FloatVector.fromArray(F, xe, k), acc0);
                acc1 = lookup(v.lanewise(VectorOperators.LSHR, 4).and(15), t0, t1).fma(FloatVector.fromArray(F, xo, k), acc1);
            }
            for (; c < c1; c++) rest += s * (float) (BitPacking.get(codes, base, c, 4) - z) * x[c];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + rest;
    }

    /** True when every row of {@code w} starts on a step boundary of the flat code stream. */
    static boolean eligible(Nf4Tensor w) {
        return USABLE && w.cols() % STEP == 0 && w.blockSize() % STEP == 0;
    }

    /** Row r of an NF4 GEMV (requires {@link #eligible}). */
    static float nf4Row(Nf4Tensor w, int r, float[][] xs) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), bs = w.blockSize();
        long e0 = (long) r * cols;
        float[] xe = xs[0], xo = xs[1];
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int b0 = (int) (e0 / bs), left = bs - (int) (e0 % bs); // current block and codes left in it
        float[] amax = new float[(cols + bs - 1) / bs + 1];
        w.absmax(b0, Math.min(amax.length, w.numBlocks() - b0), amax);
        int bi = 0;
        // T[q] = level[q]·absmax, exactly the dequantized values
        IntVector t0 = LEVELS.mul(amax[0]).reinterpretAsInts(), t1 = L == 16 ? t0 : LEVELS_HI.mul(amax[0]).reinterpretAsInts();
        for (int c = 0; c < cols; c += STEP) {
            if (left == 0) {
                left = bs;
                float a = amax[++bi];
                t0 = LEVELS.mul(a).reinterpretAsInts();
                t1 = L == 16 ? t0 : LEVELS_HI.mul(a).reinterpretAsInts();
            }
            IntVector v = load(codes, (e0 + c) >>> 1);
            int k = c / 2;
            acc0 = lookup(v.and(15), t0, t1).fma(FloatVector.fromArray(F, xe, k), acc0);
            acc1 = lookup(v.lanewise(VectorOperators.LSHR, 4).and(15), t0, t1).fma(FloatVector.fromArray(F, xo, k), acc1);
            left -= STEP;
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }
}
