package io.lowbit.quant.kernels;

import io.lowbit.quant.pack.BitPacking;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Kernels for {@link AffineQuantizedTensor}.
 *
 * <p>GEMV per row r: y[r] = Σ_g s[r,g]·Σ_{c∈g} (q[r,c] − z[r,g])·x[c], so the inner loop is a dot
 * product of decoded, zero-shifted codes with x (8 codes per step, {@link CodeVectors}) and the scale is
 * applied once per group. (Subtracting z per element instead of using z·Σx keeps the float error at the
 * level of a dense dot product: there is no cancellation between Σq·x and z·Σx.) Act-order tensors
 * (g_idx), and groups that are not 8-aligned, take the same formula with the scales and zeros gathered
 * per column (vector gathers through g_idx). Weights whose groups start on step boundaries take the
 * wider kernels of {@link LutKernels} instead (table lookup for 2-, 3- and 4-bit codes).
 */
public final class AffineKernels {
    private static final int L = CodeVectors.LANES;
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private AffineKernels() {}

    /** True when 8-code chunks starting at multiples of 8 never straddle a group boundary. */
    private static boolean vectorizable(AffineQuantizedTensor w) {
        return !w.hasGroupIndex() && (w.groupCols() % L == 0 || w.numGroups() == 1);
    }

    /** y = W·x, parallel over output rows. */
    public static void gemv(AffineQuantizedTensor w, float[] x, float[] y) {
        int cols = w.cols(), ng = w.numGroups();
        if (LutKernels.eligible(w)) {
            float[][] xp = w.bits() == 8 ? null : LutKernels.split(x, LutKernels.phases(w.bits())); // 8-bit reads x directly
            Parallel.range(w.rows(), 64, (lo, hi) -> LutKernels.affineRows(w, (int) lo, (int) hi, x, xp, y));
            return;
        }
        if (vectorizable(w)) {
            Parallel.range(w.rows(), 64, (lo, hi) -> {
                for (int r = (int) lo; r < hi; r++) y[r] = rowVector(w, r, x);
            });
            return;
        }
        int[] gidx = w.groupIndex();
        Parallel.range(w.rows(), 64, (lo, hi) -> {
            float[] s = new float[ng], z = new float[ng];
            for (int r = (int) lo; r < hi; r++) y[r] = rowGather(w, r, x, gidx, s, z);
        });
    }

    private static float rowVector(AffineQuantizedTensor w, int r, float[] x) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits(), cols = w.cols(), gc = w.groupCols(), ng = w.numGroups();
        long base = (long) r * w.rowBytes();
        IntVector shifts = CodeVectors.shifts(bits);
        FloatVector total = FloatVector.zero(CodeVectors.F);
        float rest = 0f;
        for (int g = 0; g < ng; g++) {
            int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            FloatVector acc = FloatVector.zero(CodeVectors.F);
            FloatVector zv = FloatVector.broadcast(CodeVectors.F, (float) z);
            int c = c0;
            for (; c + L <= c1; c += L) {
                FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits, shifts));
                acc = q.sub(zv).fma(FloatVector.fromArray(CodeVectors.F, x, c), acc);
            }
            float tail = 0f;
            for (; c < c1; c++) tail += (BitPacking.get(codes, base, c, bits) - z) * x[c];
            total = acc.fma(FloatVector.broadcast(CodeVectors.F, s), total);
            rest += s * tail;
        }
        return total.reduceLanes(VectorOperators.ADD) + rest;
    }

    /** Loads row r's scales and zero points (as floats) into s and z. */
    private static void groupParams(AffineQuantizedTensor w, int r, float[] s, float[] z) {
        for (int g = 0; g < s.length; g++) {
            s[g] = w.scale(r, g);
            z[g] = w.zero(r, g);
        }
    }

    /** Row r when groups are not 8-aligned or come from g_idx: scales and zeros gathered per column. */
    private static float rowGather(AffineQuantizedTensor w, int r, float[] x, int[] gidx, float[] s, float[] z) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits(), cols = w.cols();
        long base = (long) r * w.rowBytes();
        IntVector shifts = CodeVectors.shifts(bits);
        groupParams(w, r, s, z);
        FloatVector acc = FloatVector.zero(CodeVectors.F);
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits, shifts));
            FloatVector sv = FloatVector.fromArray(CodeVectors.F, s, 0, gidx, c), zv = FloatVector.fromArray(CodeVectors.F, z, 0, gidx, c);
            acc = q.sub(zv).mul(sv).fma(FloatVector.fromArray(CodeVectors.F, x, c), acc);
        }
        float rest = 0f;
        for (; c < cols; c++) rest += s[gidx[c]] * (BitPacking.get(codes, base, c, bits) - z[gidx[c]]) * x[c];
        return acc.reduceLanes(VectorOperators.ADD) + rest;
    }

    /** Writes ŵ[r, c0:c1] as floats to {@code dst} starting at float index {@code dstOff}. */
    public static void decodeRow(AffineQuantizedTensor w, int r, int c0, int c1, MemorySegment dst, long dstOff) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits();
        long base = (long) r * w.rowBytes();
        IntVector shifts = CodeVectors.shifts(bits);
        if (!vectorizable(w)) {
            decodeRowGather(w, r, c0, c1, dst, dstOff);
            return;
        }
        int c = c0;
        while (c < c1) {
            int g = w.groupOf(c);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            int end = Math.min(c1, Math.min(w.cols(), (g + 1) * w.groupCols()));
            for (; c < end && c % L != 0; c++) dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s * (float) (BitPacking.get(codes, base, c, bits) - z));
            for (; c + L <= end; c += L) {
                FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits, shifts));
                q.sub((float) z).mul(s).intoMemorySegment(dst, (dstOff + c - c0) * 4, ByteOrder.LITTLE_ENDIAN);
            }
            for (; c < end; c++) dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s * (float) (BitPacking.get(codes, base, c, bits) - z));
        }
    }

    private static void decodeRowGather(AffineQuantizedTensor w, int r, int c0, int c1, MemorySegment dst, long dstOff) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits();
        long base = (long) r * w.rowBytes();
        IntVector shifts = CodeVectors.shifts(bits);
        int[] gidx = w.groupIndex();
        float[] s = new float[w.numGroups()], z = new float[w.numGroups()];
        groupParams(w, r, s, z);
        int c = c0;
        for (; c < c1 && c % L != 0; c++) dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s[gidx[c]] * (BitPacking.get(codes, base, c, bits) - z[gidx[c]]));
        for (; c + L <= c1; c += L) {
            FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits, shifts));
            FloatVector sv = FloatVector.fromArray(CodeVectors.F, s, 0, gidx, c), zv = FloatVector.fromArray(CodeVectors.F, z, 0, gidx, c);
            q.sub(zv).mul(sv).intoMemorySegment(dst, (dstOff + c - c0) * 4, ByteOrder.LITTLE_ENDIAN);
        }
        for (; c < c1; c++) dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s[gidx[c]] * (BitPacking.get(codes, base, c, bits) - z[gidx[c]]));
    }
}
