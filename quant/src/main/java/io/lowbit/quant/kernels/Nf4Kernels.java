package io.lowbit.quant.kernels;

import io.lowbit.quant.nf4.Nf4;
import io.lowbit.quant.nf4.Nf4Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Kernels for {@link Nf4Tensor}. GEMV per row: y[r] = Σ_b absmax_b·Σ_{e∈b} level[q_e]·x[e − r·cols];
 * 8 nibbles are decoded per step ({@link CodeVectors}) and mapped to levels with a two-vector table
 * lookup ({@code selectFrom}) over the 16 levels, the absmax is applied once per block.
 * Elements before the first 8-aligned flat index of a row and after the last full chunk run scalar.
 * When every row starts on a 2L-code boundary, the table-lookup kernel of {@link LutKernels} runs instead.
 */
public final class Nf4Kernels {
    private static final int L = CodeVectors.LANES;
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final FloatVector LEVELS_LO = FloatVector.fromArray(CodeVectors.F, Nf4.levels(), 0);
    private static final FloatVector LEVELS_HI = FloatVector.fromArray(CodeVectors.F, Nf4.levels(), 8);

    private Nf4Kernels() {}

    /** The NF4 levels of 8 codes starting at flat element {@code e} (e % 8 == 0). */
    private static FloatVector levels8(MemorySegment codes, long e) {
        FloatVector idx = CodeVectors.toFloat(CodeVectors.codes4(codes, e >>> 1));
        return idx.selectFrom(LEVELS_LO, LEVELS_HI);
    }

    /** y = W·x, parallel over output rows. */
    public static void gemv(Nf4Tensor w, float[] x, float[] y) {
        if (LutKernels.eligible(w)) {
            float[][] xp = LutKernels.split(x, 2);
            Parallel.range(w.rows(), 64, (lo, hi) -> LutKernels.nf4Rows(w, (int) lo, (int) hi, xp, y));
            return;
        }
        Parallel.range(w.rows(), 64, (lo, hi) -> {
            for (int r = (int) lo; r < hi; r++) y[r] = row(w, r, x);
        });
    }

    private static float row(Nf4Tensor w, int r, float[] x) {
        MemorySegment codes = w.codeSegment();
        int cols = w.cols(), bs = w.blockSize();
        long e0 = (long) r * cols;
        float rest = 0f;
        int c = 0;
        for (; c < cols && (e0 + c) % L != 0; c++) {
            long e = e0 + c;
            rest += Nf4.level(w.code(e)) * w.absmax((int) (e / bs)) * x[c];
        }
        FloatVector total = FloatVector.zero(CodeVectors.F), acc = FloatVector.zero(CodeVectors.F);
        int block = -1;
        float a = 0f;
        for (; c + L <= cols; c += L) {
            long e = e0 + c;
            int b = (int) (e / bs);
            if (b != block) {
                total = acc.fma(FloatVector.broadcast(CodeVectors.F, a), total);
                acc = FloatVector.zero(CodeVectors.F);
                block = b;
                a = w.absmax(b);
            }
            acc = levels8(codes, e).fma(FloatVector.fromArray(CodeVectors.F, x, c), acc);
        }
        total = acc.fma(FloatVector.broadcast(CodeVectors.F, a), total);
        for (; c < cols; c++) {
            long e = e0 + c;
            rest += Nf4.level(w.code(e)) * w.absmax((int) (e / bs)) * x[c];
        }
        return total.reduceLanes(VectorOperators.ADD) + rest;
    }

    /** Writes ŵ[r, c0:c1] as floats to {@code dst} starting at float index {@code dstOff}. */
    public static void decodeRow(Nf4Tensor w, int r, int c0, int c1, MemorySegment dst, long dstOff) {
        MemorySegment codes = w.codeSegment();
        int bs = w.blockSize();
        long e0 = (long) r * w.cols();
        int c = c0;
        while (c < c1) {
            long e = e0 + c;
            if (e % L == 0 && c + L <= c1) {
                float a = w.absmax((int) (e / bs));
                levels8(codes, e).mul(a).intoMemorySegment(dst, (dstOff + c - c0) * 4, ByteOrder.LITTLE_ENDIAN);
                c += L;
            } else {
                dst.setAtIndex(FLOAT_LE, dstOff + c - c0, Nf4.level(w.code(e)) * w.absmax((int) (e / bs)));
                c++;
            }
        }
    }
}
