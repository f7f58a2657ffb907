package io.lowbit.tensor.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked SGEMM micro-kernel: one MR×NR tile of C from an MR-row panel of packed A and an
 * NR-column panel of packed B (both laid out p-major by {@link Pack}), as kc rank-1 updates
 * C_tile += a[:, p] ⊗ b[p, :] (Goto &amp; van de Geijn 2008, §4: the "GEBP" inner kernel).
 *
 * <p>Vectors are the CPU's widest ({@code SPECIES_PREFERRED}), and the tile is two vectors wide. With 16-float
 * vectors (AVX-512, 32 vector registers) it is 12×32: 24 accumulators plus 2 vectors of B and one broadcast of
 * A; per step p, 2 vector loads, 12 broadcast loads and 24 FMAs. With narrower vectors (AVX2's 8 floats in 16
 * registers, or 4) it is 4 rows × 2 vectors: 8 accumulators (six rows' 12 accumulators left C2 too few
 * registers: 61 against 113 GFLOP/s per core under {@code -XX:UseAVX=2}). {@link #update} writes the tile back as
 * C = alpha·acc + beta·C (beta = 0: C is not read), with masked stores for partial tiles at the right and
 * bottom edges.
 */
final class GemmKernel {
    /** The vector shape every GEMM kernel uses: the CPU's widest (16 floats on AVX-512, 8 on AVX2). */
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector. */
    static final int L = S.length();
    /** Rows of the register tile (rows of one packed A panel): as many as the vector registers hold. */
    static final int MR = L >= 16 ? 12 : 4;
    /** Columns of the register tile (columns of one packed B panel): two vectors. */
    static final int NR = 2 * L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private GemmKernel() {}

    /**
     * acc[r·NR + j] = Σ_p a[ai + p·MR + r] · b[bi + p·NR + j] for the whole MR×NR tile: the kc rank-1
     * updates run in register accumulators, which are spilled to {@code acc} once at the end (the
     * write-back to C is a separate, small method so this one stays free of calls the JIT might not inline).
     */
    static void tile(int kc, float[] a, int ai, float[] b, int bi, float[] acc) {
        if (MR == 12) tile12(kc, a, ai, b, bi, acc);
        else tile4(kc, a, ai, b, bi, acc);
    }

    /** The 4-row tile for machines with 16 vector registers: 8 accumulators, 2 vectors of B, 1 broadcast. */
    private static void tile4(int kc, float[] a, int ai, float[] b, int bi, float[] acc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        for (int p = 0; p < kc; p++, ai += 4, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector x;
            x = FloatVector.broadcast(S, a[ai]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L);
        c10.intoArray(acc, NR); c11.intoArray(acc, NR + L);
        c20.intoArray(acc, 2 * NR); c21.intoArray(acc, 2 * NR + L);
        c30.intoArray(acc, 3 * NR); c31.intoArray(acc, 3 * NR + L);
    }

    /** The 12-row tile for machines with 32 vector registers (AVX-512): 24 accumulators, 2 vectors of B, 1 broadcast. */
    private static void tile12(int kc, float[] a, int ai, float[] b, int bi, float[] acc) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        FloatVector c60 = z, c61 = z, c70 = z, c71 = z, c80 = z, c81 = z, c90 = z, c91 = z, c100 = z, c101 = z, c110 = z, c111 = z;
        for (int p = 0; p < kc; p++, ai += 12, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector x;
            x = FloatVector.broadcast(S, a[ai]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(S, a[ai + 6]); c60 = x.fma(b0, c60); c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(S, a[ai + 7]); c70 = x.fma(b0, c70); c71 = x.fma(b1, c71);
            x = FloatVector.broadcast(S, a[ai + 8]); c80 = x.fma(b0, c80); c81 = x.fma(b1, c81);
            x = FloatVector.broadcast(S, a[ai + 9]); c90 = x.fma(b0, c90); c91 = x.fma(b1, c91);
            x = FloatVector.broadcast(S, a[ai + 10]); c100 = x.fma(b0, c100); c101 = x.fma(b1, c101);
            x = FloatVector.broadcast(S, a[ai + 11]); c110 = x.fma(b0, c110); c111 = x.fma(b1, c111);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L);
        c10.intoArray(acc, NR); c11.intoArray(acc, NR + L);
        c20.intoArray(acc, 2 * NR); c21.intoArray(acc, 2 * NR + L);
        c30.intoArray(acc, 3 * NR); c31.intoArray(acc, 3 * NR + L);
        c40.intoArray(acc, 4 * NR); c41.intoArray(acc, 4 * NR + L);
        c50.intoArray(acc, 5 * NR); c51.intoArray(acc, 5 * NR + L);
        c60.intoArray(acc, 6 * NR); c61.intoArray(acc, 6 * NR + L);
        c70.intoArray(acc, 7 * NR); c71.intoArray(acc, 7 * NR + L);
        c80.intoArray(acc, 8 * NR); c81.intoArray(acc, 8 * NR + L);
        c90.intoArray(acc, 9 * NR); c91.intoArray(acc, 9 * NR + L);
        c100.intoArray(acc, 10 * NR); c101.intoArray(acc, 10 * NR + L);
        c110.intoArray(acc, 11 * NR); c111.intoArray(acc, 11 * NR + L);
    }

    /**
     * C[0:mr, 0:nr] = alpha·acc + beta·C (beta = 0: C is not read); rows beyond mr and columns beyond nr
     * of the tile are padding and are not stored.
     *
     * @param cOff float index of C[0, 0] in {@code c}; rows are {@code ldc} floats apart
     */
    static void update(float[] acc, MemorySegment c, long cOff, int ldc, float alpha, float beta, int mr, int nr) {
        VectorMask<Float> m0 = S.indexInRange(0, nr), m1 = S.indexInRange(L, nr);
        boolean full = nr == NR;
        for (int r = 0; r < mr; r++) {
            long off0 = (cOff + (long) r * ldc) * Float.BYTES, off1 = off0 + (long) L * Float.BYTES;
            FloatVector r0 = FloatVector.fromArray(S, acc, r * NR).mul(alpha), r1 = FloatVector.fromArray(S, acc, r * NR + L).mul(alpha);
            if (full) {
                if (beta != 0f) {
                    r0 = FloatVector.fromMemorySegment(S, c, off0, NATIVE).mul(beta).add(r0);
                    r1 = FloatVector.fromMemorySegment(S, c, off1, NATIVE).mul(beta).add(r1);
                }
                r0.intoMemorySegment(c, off0, NATIVE);
                r1.intoMemorySegment(c, off1, NATIVE);
            } else {
                if (beta != 0f) {
                    r0 = FloatVector.fromMemorySegment(S, c, off0, NATIVE, m0).mul(beta).add(r0);
                    r1 = FloatVector.fromMemorySegment(S, c, off1, NATIVE, m1).mul(beta).add(r1);
                }
                r0.intoMemorySegment(c, off0, NATIVE, m0);
                r1.intoMemorySegment(c, off1, NATIVE, m1);
            }
        }
    }
}
