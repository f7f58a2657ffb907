package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.GemmKernel.L;
import static io.lowbit.tensor.cpu.GemmKernel.MR;
import static io.lowbit.tensor.cpu.GemmKernel.NR;
import static io.lowbit.tensor.cpu.GemmKernel.S;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Packing of GEMM operands into the panel layout the {@link GemmKernel} streams through (Goto &amp; van de
 * Geijn 2008, §3): a block of op(A) becomes MR-row panels, a block of op(B) NR-column panels, each stored
 * p-major (the MR or NR values of step p are adjacent) and zero-padded to a full panel. Transposition is
 * absorbed here: an operand whose panel direction is contiguous in memory is copied row by row, the
 * other one is read along its contiguous direction and written down the panel. No operand is ever
 * copied whole; the packed blocks are at most MC×KC and KC×NC.
 */
final class Pack {
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private Pack() {}

    /**
     * Packs op(A)[i0 : i0+mc, p0 : p0+kc] into ceil(mc/MR) panels of MR×kc at dst[0 ...].
     * A is m×k row-major (element (i, p) at aOff + i·lda + p), or k×m when transA (at aOff + p·lda + i).
     */
    static void packA(boolean transA, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc, float[] dst) {
        if (transA) {
            direct(a, aOff + (long) p0 * lda + i0, lda, kc, mc, 0, ceilDiv(mc, MR), MR, dst);
            return;
        }
        for (int q = 0, i = 0; i < mc; q++, i += MR)
            transpose(a, aOff + (long) (i0 + i) * lda + p0, lda, Math.min(MR, mc - i), kc, dst, q * MR * kc, MR);
    }

    /**
     * Packs the NR-column panels q0 ≤ q &lt; q1 of op(B)[p0 : p0+kc, j0 : j0+nc] at dst[q·NR·kc ...].
     * B is k×n row-major (element (p, j) at bOff + p·ldb + j), or n×k when transB (at bOff + j·ldb + p).
     */
    static void packB(boolean transB, MemorySegment b, long bOff, int ldb, int p0, int kc, int j0, int nc,
                      int q0, int q1, float[] dst) {
        if (!transB) {
            direct(b, bOff + (long) p0 * ldb + j0, ldb, kc, nc, q0, q1, NR, dst);
            return;
        }
        for (int q = q0; q < q1; q++) {
            int j = q * NR;
            transpose(b, bOff + (long) (j0 + j) * ldb + p0, ldb, Math.min(NR, nc - j), kc, dst, q * NR * kc, NR);
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * Panels q0 ≤ q &lt; q1 of a source whose panel direction is contiguous: step p of the block is the
     * row of {@code cols} floats at src + p·ld, and panel q takes its columns [q·width, q·width + width),
     * zero-padded past {@code cols}. Rows are read whole (p outer), so the source streams sequentially.
     */
    private static void direct(MemorySegment s, long src, int ld, int kc, int cols, int q0, int q1, int width, float[] dst) {
        int full = Math.min(q1, cols / width);   // panels q0 ≤ q < full need no padding
        VectorMask<Float> tail = S.indexInRange(0, width - L * ((width - 1) / L)); // lanes of a panel's last vector
        for (int p = 0; p < kc; p++) {
            long row = (src + (long) p * ld) * Float.BYTES;
            int q = q0;
            if (width == NR) {
                for (; q < full; q++) {
                    long o = row + (long) q * NR * Float.BYTES;
                    int d = (q * kc + p) * NR;
                    FloatVector.fromMemorySegment(S, s, o, NATIVE).intoArray(dst, d);
                    FloatVector.fromMemorySegment(S, s, o + (long) L * Float.BYTES, NATIVE).intoArray(dst, d + L);
                }
            } else if (width <= L) {
                long safe = s.byteSize() - (long) L * Float.BYTES; // a whole vector may be read up to here
                for (; q < full; q++) {
                    long o = row + (long) q * width * Float.BYTES;
                    FloatVector v = o <= safe ? FloatVector.fromMemorySegment(S, s, o, NATIVE) : FloatVector.fromMemorySegment(S, s, o, NATIVE, tail);
                    v.intoArray(dst, (q * kc + p) * width, tail);
                }
            }
            for (; q < q1; q++) { // padded panel (or a width this fast path does not cover)
                int j = q * width, w = Math.min(width, cols - j), d = (q * kc + p) * width;
                for (int v = 0; v < width; v += L) {
                    VectorMask<Float> load = S.indexInRange(v, w), store = S.indexInRange(v, width);
                    FloatVector.fromMemorySegment(S, s, row + (long) (j + v) * Float.BYTES, NATIVE, load).intoArray(dst, d + v, store);
                }
            }
        }
    }

    /** Per-thread staging rows for {@link #transpose}, grown on demand. */
    private static final ThreadLocal<float[]> ROWS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Panel whose source rows r &lt; w are contiguous along p (row r at src + r·ld); rows w ≤ r &lt; width
     * are zero. A full MR-row panel of A (the common case) is first copied whole into a staging array
     * (MR bulk copies that stream the source) and then written p by p in an unrolled loop, so the panel
     * fills sequentially. Other panels read each row in order and write its values down the panel,
     * {@code width} floats apart, in plain scalar copies: on this project's Zen 5 core those beat a 16-lane
     * scatter store, and for the 32-wide B panels they beat staging too (2048×256×2048 NT: 186 against 177
     * GFLOP/s); for A panels staging wins (packing a 1024×1024 A: 6 % of the product against 7 %).
     */
    private static void transpose(MemorySegment s, long src, int ld, int w, int kc, float[] dst, int d, int width) {
        if (w == MR && width == MR) {
            float[] t = ROWS.get();
            if (t.length < MR * kc) ROWS.set(t = new float[MR * kc]);
            for (int r = 0; r < MR; r++)
                MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, (src + (long) r * ld) * Float.BYTES, t, r * kc, kc);
            if (MR != 12) { // the narrow-vector tile (4 rows)
                for (int p = 0, o = d; p < kc; p++, o += MR)
                    for (int r = 0; r < MR; r++) dst[o + r] = t[r * kc + p];
                return;
            }
            for (int p = 0, o = d; p < kc; p++, o += MR) {
                dst[o] = t[p]; dst[o + 1] = t[kc + p]; dst[o + 2] = t[2 * kc + p]; dst[o + 3] = t[3 * kc + p];
                dst[o + 4] = t[4 * kc + p]; dst[o + 5] = t[5 * kc + p]; dst[o + 6] = t[6 * kc + p]; dst[o + 7] = t[7 * kc + p];
                dst[o + 8] = t[8 * kc + p]; dst[o + 9] = t[9 * kc + p]; dst[o + 10] = t[10 * kc + p]; dst[o + 11] = t[11 * kc + p];
            }
            return;
        }
        for (int r = 0; r < w; r++) {
            long row = src + (long) r * ld;
            for (int p = 0; p < kc; p++) dst[d + p * width + r] = s.getAtIndex(ValueLayout.JAVA_FLOAT, row + p);
        }
        for (int r = w; r < width; r++)
            for (int p = 0; p < kc; p++) dst[d + p * width + r] = 0f;
    }
}
