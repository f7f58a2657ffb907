package io.lowbit.quant.kernels;

import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** F32 GEMV y = W·x on the Vector API (the baseline the quantized GEMVs are timed against). */
public final class DenseGemv {
    private static final jdk.incubator.vector.VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private DenseGemv() {}

    /** y[r] = Σ_c W[r, c]·x[c] for a row-major F32 W [rows, cols] starting at float {@code wOff} of {@code w}. */
    public static void gemv(MemorySegment w, long wOff, int rows, int cols, float[] x, float[] y) {
        Parallel.range(rows, 64, (lo, hi) -> {
            int lanes = SPECIES.length();
            for (int r = (int) lo; r < hi; r++) {
                long base = (wOff + (long) r * cols) * 4;
                FloatVector acc = FloatVector.zero(SPECIES);
                int c = 0;
                for (; c + lanes <= cols; c += lanes)
                    acc = FloatVector.fromMemorySegment(SPECIES, w, base + 4L * c, ByteOrder.LITTLE_ENDIAN)
                            .fma(FloatVector.fromArray(SPECIES, x, c), acc);
                float s = acc.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) s += w.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, wOff + (long) r * cols + c) * x[c];
                y[r] = s;
            }
        });
    }
}
