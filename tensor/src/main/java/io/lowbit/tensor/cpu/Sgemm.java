package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.GemmKernel.MR;
import static io.lowbit.tensor.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Single-precision GEMM on row-major data: C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ.
 * Offsets and leading dimensions are in floats. With beta = 0, C is not read (NaNs in it are ignored).
 *
 * <p>Blocked as in Goto &amp; van de Geijn, "Anatomy of high-performance matrix multiplication" (2008) and
 * BLIS: the n dimension is cut into NC-wide column blocks, k into KC-deep slices whose op(B) block is
 * packed into NR-wide panels ({@link Pack}), m into MC-tall row blocks whose op(A) block is packed into
 * MR-tall panels, and every MR×NR tile of C is computed by the register-blocked {@link GemmKernel}.
 * Both transpositions are absorbed by the packing. With several threads each thread computes its own rows
 * of C (or, when op(A) is the smaller operand, e.g. a weight gradient Gᵀ·X with few output rows, its own
 * columns) as an independent blocked product with its own packed blocks: no barriers, so a thread descheduled
 * on a busy machine delays only its own share; the price is that every thread packs the whole other operand.
 * Skinny products (m = 1, n = 1 or k = 1) go to {@link Gemv} instead.
 *
 * <p>The block sizes were measured on a 48 KiB-L1 / 1 MiB-L2 AVX-512 core (Zen 5) and can be overridden for tuning on
 * other machines with {@code -Dlowbit.sgemm.kc}, {@code -Dlowbit.sgemm.mc} (a multiple of the tile's rows, 12 on AVX-512 and 4 otherwise) and
 * {@code -Dlowbit.sgemm.nc} (a multiple of 32).
 */
public final class Sgemm {
    /**
     * Depth of a packed slice. Deep slices mean few passes over C (each pass reads and writes every C tile,
     * the write-back cost 10 % of a 2048³ product at KC = 256); at KC = 1024 an MR×KC panel of A (48 KiB)
     * sits in L1/L2 while the B panels stream past it from L3. Measured against 256 on this host: 2048³ one
     * thread 237 against 224 GFLOP/s.
     */
    static final int KC = Integer.getInteger("lowbit.sgemm.kc", 1024);
    /** Rows of a packed A block (MC×KC floats = 576 KiB, in the 1 MiB L2). */
    static final int MC = Integer.getInteger("lowbit.sgemm.mc", 12 * MR);
    /** Columns of a packed B block: KC×NC floats = 8 MiB, streamed from L3, so A is packed once per slice up to n = 2048. */
    static final int NC = Integer.getInteger("lowbit.sgemm.nc", 64 * NR);
    static {
        if (KC < 1 || MC < 1 || NC < 1)
            throw new IllegalArgumentException("lowbit.sgemm.kc/mc/nc must be positive, got " + KC + "/" + MC + "/" + NC);
    }

    /** Below this many multiply-adds the product runs on the caller alone. */
    private static final long PARALLEL_MIN = 1L << 21;

    /** Per-thread packing buffers {A block, B block, C tile}, grown on demand and kept for the next call. */
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[3][]);

    private Sgemm() {}

    /**
     * @param transA A is stored k×m (lda ≥ m) instead of m×k (lda ≥ k)
     * @param transB B is stored n×k (ldb ≥ k) instead of k×n (ldb ≥ n)
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                             float beta, MemorySegment c, long cOff, int ldc) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("sgemm: negative size m=" + m + " n=" + n + " k=" + k);
        if (m == 0 || n == 0) return;
        checkOperand("C", c, cOff, ldc, m, n);
        if (k == 0 || alpha == 0f) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        checkOperand("A", a, aOff, lda, transA ? k : m, transA ? m : k);
        checkOperand("B", b, bOff, ldb, transB ? n : k, transB ? k : n);
        if (n == 1) {
            float[] x = Gemv.gather(b, bOff, transB ? 1 : ldb, k);
            if (transA) Gemv.mv(true, k, m, alpha, a, aOff, lda, x, beta, c, cOff, ldc);
            else Gemv.mv(false, m, k, alpha, a, aOff, lda, x, beta, c, cOff, ldc);
        } else if (m == 1) {
            float[] x = Gemv.gather(a, aOff, transA ? lda : 1, k);
            if (transB) Gemv.mv(false, n, k, alpha, b, bOff, ldb, x, beta, c, cOff, 1);
            else Gemv.mv(true, k, n, alpha, b, bOff, ldb, x, beta, c, cOff, 1);
        } else if (k == 1) {
            float[] u = Gemv.gather(a, aOff, transA ? 1 : lda, m);
            float[] v = Gemv.gather(b, bOff, transB ? ldb : 1, n);
            Gemv.outer(m, n, alpha, u, v, beta, c, cOff, ldc);
        } else {
            blocked(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        }
    }

    private static void checkOperand(String name, MemorySegment s, long off, int ld, int rows, int cols) {
        if (ld < Math.max(1, cols))
            throw new IllegalArgumentException("sgemm: ld" + name.toLowerCase() + "=" + ld + " is smaller than the " + cols + " columns of stored " + name + " (" + rows + "x" + cols + ")");
        long last = off + (long) (rows - 1) * ld + cols;
        if (off < 0 || last * Float.BYTES > s.byteSize())
            throw new IndexOutOfBoundsException("sgemm: stored " + name + " (" + rows + "x" + cols + ", offset " + off + ", ld " + ld
                    + ") needs " + last + " floats but its segment holds " + s.byteSize() / Float.BYTES);
    }

    /** C = beta·C (beta = 0 writes zeros without reading C). */
    private static void scale(int m, int n, float beta, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                long ci = cOff + (long) i * ldc + j;
                c.setAtIndex(ValueLayout.JAVA_FLOAT, ci, beta == 0f ? 0f : beta * c.getAtIndex(ValueLayout.JAVA_FLOAT, ci));
            }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static float[] buffer(int which, int size) {
        float[][] bufs = BUFFERS.get();
        if (bufs[which] == null || bufs[which].length < size) bufs[which] = new float[size];
        return bufs[which];
    }

    private static void blocked(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                                float beta, MemorySegment c, long cOff, int ldc) {
        int threads = Parallel.threads();
        long work = (long) m * n * k;
        int mPanels = ceilDiv(m, MR), nPanels = ceilDiv(n, NR);
        Blocking blk = new Blocking(m, n, k);
        if (threads == 1 || work < PARALLEL_MIN || Parallel.inWorker()) {
            serial(transA, transB, blk, 0, m, 0, n, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        } else if (mPanels >= 2 * threads && (nPanels < 2 * threads || n <= m)) {
            // split the rows (whole MR panels): each thread packs its own A rows and all of op(B) (k·n floats),
            // chosen when op(B) is the smaller operand to pack twice; otherwise the columns are split
            Parallel.range(mPanels, 1, (lo, hi) -> serial(transA, transB, blk, (int) lo * MR, (int) Math.min(m, hi * MR), 0, n,
                    alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc));
        } else {
            // split the columns: each thread packs its own B panels and all of op(A) (m·k floats, the smaller)
            Parallel.range(nPanels, 1, (lo, hi) -> serial(transA, transB, blk, 0, m, (int) lo * NR, (int) Math.min(n, hi * NR),
                    alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc));
        }
    }

    /** Block sizes for one product: KC, MC and NC shrunk so the blocks split k, m and n evenly. */
    private record Blocking(int m, int n, int k, int kc, int mc, int nc) {
        Blocking(int m, int n, int k) {
            this(m, n, k, ceilDiv(k, ceilDiv(k, KC)),
                    ceilDiv(ceilDiv(m, ceilDiv(m, MC)), MR) * MR,
                    ceilDiv(ceilDiv(n, ceilDiv(n, NC)), NR) * NR);
        }
    }

    /** C[i0:i1, j0:j1] on the calling thread. */
    private static void serial(boolean transA, boolean transB, Blocking blk, int i0, int i1, int j0, int j1, float alpha,
                               MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                               float beta, MemorySegment c, long cOff, int ldc) {
        int k = blk.k();
        float[] ap = buffer(0, blk.mc() * blk.kc()), bp = buffer(1, blk.nc() * blk.kc());
        for (int jc = j0; jc < j1; jc += blk.nc()) {
            int nc = Math.min(blk.nc(), j1 - jc);
            for (int pc = 0; pc < k; pc += blk.kc()) {
                int kc = Math.min(blk.kc(), k - pc);
                float betaK = pc == 0 ? beta : 1f;
                Pack.packB(transB, b, bOff, ldb, pc, kc, jc, nc, 0, ceilDiv(nc, NR), bp);
                for (int ic = i0; ic < i1; ic += blk.mc()) {
                    int mc = Math.min(blk.mc(), i1 - ic);
                    Pack.packA(transA, a, aOff, lda, ic, mc, pc, kc, ap);
                    macro(kc, mc, nc, ap, bp, c, cOff + (long) ic * ldc + jc, ldc, alpha, betaK);
                }
            }
        }
    }

    /**
     * The macro-kernel: C[0:mc, 0:nc] (at cOff) = alpha·Apacked·Bpacked + beta·C, tile by tile. Each A
     * panel (L1/L2) sweeps the whole packed B block (L3) before the next A panel is touched.
     */
    private static void macro(int kc, int mc, int nc, float[] ap, float[] bp, MemorySegment c, long cOff, int ldc,
                              float alpha, float beta) {
        float[] acc = buffer(2, MR * NR);
        for (int i = 0, r = 0; i < mc; i += MR, r++) {
            int mr = Math.min(MR, mc - i);
            for (int j = 0, q = 0; j < nc; j += NR, q++) {
                GemmKernel.tile(kc, ap, r * MR * kc, bp, q * NR * kc, acc);
                GemmKernel.update(acc, c, cOff + (long) i * ldc + j, ldc, alpha, beta, mr, Math.min(NR, nc - j));
            }
        }
    }
}
