package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.GemmKernel.L;
import static io.lowbit.tensor.cpu.GemmKernel.MR;
import static io.lowbit.tensor.cpu.GemmKernel.NR;
import static io.lowbit.tensor.cpu.GemmKernel.S;

import java.lang.foreign.MemorySegment;
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

    /**
     * Panel whose source rows r &lt; w are contiguous along p (row r at src + r·ld): each row is read in order
     * and its values written down the panel, {@code width} floats apart; rows w ≤ r &lt; width are zero. Plain
     * scalar copies: on this project's AMD core they beat a 16-lane scatter store (0.23 against 0.31 ns per
     * float packing a 2048×256 A, one thread).
     */
    private static void transpose(MemorySegment s, long src, int ld, int w, int kc, float[] dst, int d, int width) {
        for (int r = 0; r < w; r++) {
            long row = src + (long) r * ld;
            for (int p = 0; p < kc; p++) dst[d + p * width + r] = s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, row + p);
        }
        for (int r = w; r < width; r++)
            for (int p = 0; p < kc; p++) dst[d + p * width + r] = 0f;
    }
}
