package io.lowbit.quant.kernels;

import io.lowbit.quant.pack.BitPacking;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Kernels for {@link AffineQuantizedTensor}.
 *
 * <p>GEMV per row r: y[r] = Σ_g s[r,g]·Σ_{c∈g} (q[r,c] − z[r,g])·x[c], so the inner loop is a dot
 * product of decoded, zero-shifted codes with x (8 codes per step, {@link CodeVectors}) and the scale is
 * applied once per group. (Subtracting z per element instead of using z·Σx keeps the float error at the
 * level of a dense dot product: there is no cancellation between Σq·x and z·Σx.) Act-order tensors
 * (g_idx) take the same formula with groups gathered per column, in a scalar loop. Int4 weights whose
 * groups start on 2L-column boundaries use the table-lookup kernel of {@link Lut4Kernels} instead.
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
        if (Lut4Kernels.eligible(w)) {
            float[][] xs = Lut4Kernels.split(x);
            Parallel.range(w.rows(), 64, (lo, hi) -> {
                for (int r = (int) lo; r < hi; r++) y[r] = Lut4Kernels.affineRow(w, r, x, xs);
            });
            return;
        }
        boolean vec = vectorizable(w);
        Parallel.range(w.rows(), 64, (lo, hi) -> {
            float[] dots = vec ? null : new float[ng];
            for (int r = (int) lo; r < hi; r++) y[r] = vec ? rowVector(w, r, x) : rowScalar(w, r, x, dots);
        });
    }

    private static float rowVector(AffineQuantizedTensor w, int r, float[] x) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits(), cols = w.cols(), gc = w.groupCols(), ng = w.numGroups();
        long base = (long) r * w.rowBytes();
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
                FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits));
                acc = q.sub(zv).fma(FloatVector.fromArray(CodeVectors.F, x, c), acc);
            }
            float tail = 0f;
            for (; c < c1; c++) tail += (BitPacking.get(codes, base, c, bits) - z) * x[c];
            total = acc.fma(FloatVector.broadcast(CodeVectors.F, s), total);
            rest += s * tail;
        }
        return total.reduceLanes(VectorOperators.ADD) + rest;
    }

    private static float rowScalar(AffineQuantizedTensor w, int r, float[] x, float[] dots) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits(), cols = w.cols(), ng = w.numGroups();
        long base = (long) r * w.rowBytes();
        java.util.Arrays.fill(dots, 0f);
        for (int c = 0; c < cols; c++) {
            int g = w.groupOf(c);
            dots[g] += (BitPacking.get(codes, base, c, bits) - w.zero(r, g)) * x[c];
        }
        float y = 0f;
        for (int g = 0; g < ng; g++) y += w.scale(r, g) * dots[g];
        return y;
    }

    /** Writes ŵ[r, c0:c1] as floats to {@code dst} starting at float index {@code dstOff}. */
    public static void decodeRow(AffineQuantizedTensor w, int r, int c0, int c1, MemorySegment dst, long dstOff) {
        MemorySegment codes = w.codeSegment();
        int bits = w.bits();
        long base = (long) r * w.rowBytes();
        boolean vec = vectorizable(w);
        int c = c0;
        while (c < c1) {
            int g = w.groupOf(c);
            float s = w.scale(r, g);
            int z = w.zero(r, g);
            if (vec && c % L == 0 && c + L <= c1) {
                int end = Math.min(c1, w.hasGroupIndex() ? c + L : Math.min(w.cols(), (g + 1) * w.groupCols()));
                for (; c + L <= end; c += L) {
                    FloatVector q = CodeVectors.toFloat(CodeVectors.codes8(codes, base + (long) c * bits / 8, bits));
                    q.sub((float) z).mul(s).intoMemorySegment(dst, (dstOff + c - c0) * 4, ByteOrder.LITTLE_ENDIAN);
                }
                for (; c < end; c++) dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s * (float) (BitPacking.get(codes, base, c, bits) - z));
            } else {
                dst.setAtIndex(FLOAT_LE, dstOff + c - c0, s * (float) (BitPacking.get(codes, base, c, bits) - z));
                c++;
            }
        }
    }
}
