package io.lowbit.autograd.ops;

import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Lanes;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * The F32 kernels of {@link Attention}, written as small matrix products over tiles of query rows (the
 * FlashAttention-2 schedule, Dao 2023, without its online softmax: a tile's score rows span all visible keys).
 * One task per (batch, kv head) copies that head's K and V once into dense heap arrays (rows, and Kᵀ/Vᵀ so
 * score rows are vector-wide), then for each query head of its group and each tile of {@link #TILE} rows:
 * <pre>
 *   forward:  S = Q·Kᵀ,  P = softmax(scale·S) under the mask,  O = P·V,  L_i = m_i + log Σ_j e^(scale·s_ij − m_i)
 *   backward: P = e^(scale·S − L),  dS = P ∘ (dO·Vᵀ − D),  D_i = dO_i·O_i,
 *             dV += Pᵀ·dO,  dK += scale·dSᵀ·Q,  dQ = scale·dS·K
 * </pre>
 * Masked entries of P and dS are exact zeros, so a product may run over a superset of the visible range
 * (whole vectors, whole 4-row blocks) without changing a bit. Every sum has a fixed order that depends only
 * on the shapes, so results are deterministic and independent of the input strides; the task owns its
 * dK/dV rows (no locks).
 */
final class AttentionF32 {
    private static final int L = Simd.S.length();
    /** Query rows per tile: a TILE × Tk score tile plus its gradient stay in L2. */
    static final int TILE = 64;

    private final boolean causal;
    private final int window;
    private final float scale;
    private final int bsz, tq, tk, hq, hkv, d;
    /** d and Tk rounded up to whole vectors (row lengths of the scratch arrays; the padding stays zero). */
    private final int dp, tkp;

    AttentionF32(boolean causal, int window, double scale, int bsz, int tq, int tk, int hq, int hkv, int d) {
        this.causal = causal;
        this.window = window;
        this.scale = (float) scale;
        this.bsz = bsz; this.tq = tq; this.tk = tk; this.hq = hq; this.hkv = hkv; this.d = d;
        this.dp = ceil(d);
        this.tkp = ceil(tk);
    }

    private static int ceil(int n) { return (n + L - 1) / L * L; }

    /** First key index query i may see. */
    int lo(int i) {
        return causal && window > 0 ? Math.max(0, i + tk - tq - window + 1) : 0;
    }

    /** Last key index query i may see. */
    int hi(int i) {
        return causal ? i + tk - tq : tk - 1;
    }

    /** First query row that sees key j (may be past the last row). */
    private int firstRow(int j) {
        return causal ? Math.max(0, j - (tk - tq)) : 0;
    }

    /** Last query row that sees key j (may be negative). */
    private int lastRow(int j) {
        return causal && window > 0 ? Math.min(tq - 1, j - (tk - tq) + window - 1) : tq - 1;
    }

    /** Element offset of row (b, t, h) of a [B, T, H, d] view whose rows are contiguous. */
    private static long at(Tensor t, int b, int time, int h) {
        return t.offset() + b * t.stride(0) + time * t.stride(1) + h * t.stride(2);
    }

    /** Per-thread arrays, allocated once per parallel chunk. */
    private final class Scratch {
        final float[] kRows = new float[tk * dp], vRows = new float[tk * dp];  // K, V [Tk, dp]
        final float[] kT = new float[d * tkp], vT = new float[d * tkp];        // Kᵀ, Vᵀ [d, Tkp]
        final float[] qa = new float[TILE * dp], ga = new float[TILE * dp], oa = new float[TILE * dp];
        final float[] p = new float[TILE * tkp], ds = new float[TILE * tkp];   // P and dP/dS tiles
        final float[] dk = new float[tk * dp], dv = new float[tk * dp];
        final float[] delta = new float[TILE], row = new float[Math.max(d, 1)], lanes = new float[L];
        final int[] zero = new int[TILE], depth = new int[TILE]; // k range [0, d) of the score products
        final int[] keyFrom = new int[TILE], keyTo = new int[TILE], rowFrom = new int[tk], rowTo = new int[tk];

        Scratch() {
            Arrays.fill(depth, d);
        }

        /** Copies K and V of (b, kv head hk) into rows, K transposed too, and V transposed when {@code vT} (backward only). */
        void loadKv(Tensor k, Tensor v, int b, int hk, boolean transposeV) {
            MemorySegment ks = k.segment(), vs = v.segment();
            for (int j = 0; j < tk; j++) {
                MemorySegment.copy(ks, ValueLayout.JAVA_FLOAT, 4 * at(k, b, j, hk), kRows, j * dp, d);
                MemorySegment.copy(vs, ValueLayout.JAVA_FLOAT, 4 * at(v, b, j, hk), vRows, j * dp, d);
            }
            transpose(kRows, kT);
            if (transposeV) transpose(vRows, vT);
        }

        /** t[c·Tkp + j] = rows[j·dp + c]: eight keys at a time, so each row of t is written in runs. */
        private void transpose(float[] rows, float[] t) {
            int j = 0;
            for (; j + 8 <= tk; j += 8)
                for (int c = 0; c < d; c++) {
                    int o = c * tkp + j, r = j * dp + c;
                    t[o] = rows[r]; t[o + 1] = rows[r + dp]; t[o + 2] = rows[r + 2 * dp]; t[o + 3] = rows[r + 3 * dp];
                    t[o + 4] = rows[r + 4 * dp]; t[o + 5] = rows[r + 5 * dp]; t[o + 6] = rows[r + 6 * dp]; t[o + 7] = rows[r + 7 * dp];
                }
            for (; j < tk; j++)
                for (int c = 0; c < d; c++) t[c * tkp + j] = rows[j * dp + c];
        }

        /** Sets the visible key range of tile rows [i0, i0 + m). */
        void keyRanges(int i0, int m) {
            for (int r = 0; r < m; r++) {
                keyFrom[r] = lo(i0 + r);
                keyTo[r] = hi(i0 + r) + 1;
            }
        }

        /** Sets, for keys j in [j0, j1), the tile rows (relative to i0, clipped to [0, m)) that see it, at index j − j0. */
        void rowRanges(int i0, int m, int j0, int j1) {
            for (int j = j0; j < j1; j++) {
                rowFrom[j - j0] = Math.clamp(firstRow(j) - i0, 0, m);
                rowTo[j - j0] = Math.clamp(lastRow(j) + 1 - i0, rowFrom[j - j0], m);
            }
        }
    }

    private static void gather(Tensor t, int b, int i0, int m, int h, int d, float[] dst, int ld) {
        MemorySegment s = t.segment();
        for (int r = 0; r < m; r++) MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 4 * at(t, b, i0 + r, h), dst, r * ld, d);
    }

    /** Writes rows src[r·ld ..] (r in [0, m)) times factor to rows i0 + r of head h of t. */
    private static void scatterRows(float[] src, int ld, float factor, Tensor t, int b, int i0, int m, int h, int d, float[] row) {
        MemorySegment s = t.segment();
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < d; c++) row[c] = src[r * ld + c] * factor;
            MemorySegment.copy(row, 0, s, ValueLayout.JAVA_FLOAT, 4 * at(t, b, i0 + r, h), d);
        }
    }

    // ------------------------------------------------------------------ forward

    /** out [B, Tq, Hq, d] and lse [B, Hq, Tq] (both contiguous) from q, k, v with contiguous head rows. */
    void forward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse) {
        int group = hq / hkv;
        MemorySegment ls = lse.segment();
        Parallel.range((long) bsz * hkv, 1, (from, to) -> {
            Scratch w = new Scratch();
            for (long task = from; task < to; task++) {
                int b = (int) (task / hkv), hk = (int) (task % hkv);
                w.loadKv(k, v, b, hk, false);
                for (int h = hk * group; h < (hk + 1) * group; h++)
                    for (int i0 = 0; i0 < tq; i0 += TILE) {
                        int m = Math.min(TILE, tq - i0);
                        gather(q, b, i0, m, h, d, w.qa, dp);
                        w.keyRanges(i0, m);
                        mul(w.qa, 0, dp, 1, w.kT, tkp, w.p, 0, tkp, m, false, w.zero, w.depth, w.keyFrom, w.keyTo); // S = Q·Kᵀ
                        for (int r = 0; r < m; r++) {
                            float lr = softmaxRow(w.p, r * tkp, lo(i0 + r), hi(i0 + r), w.lanes);
                            ls.setAtIndex(ValueLayout.JAVA_FLOAT, lse.offset() + ((long) b * hq + h) * tq + i0 + r, lr);
                        }
                        Arrays.fill(w.oa, 0, m * dp, 0f);
                        mul(w.p, 0, tkp, 1, w.vRows, dp, w.oa, 0, dp, m, true, w.keyFrom, w.keyTo, null, null); // O = P·V
                        scatterRows(w.oa, dp, 1f, out, b, i0, m, h, d, w.row);
                    }
            }
        });
    }

    /**
     * Turns score row s[o + lo .. o + hi] into probabilities in place (zeros elsewhere in [0, Tkp)) and returns
     * its log-sum-exp L = m + log Σ e^(scale·s − m).
     */
    private float softmaxRow(float[] s, int o, int lo, int hi, float[] lanes) {
        int a = lo / L * L, e = ceil(hi + 1);
        maskOutside(s, o, a, lo, hi, e, Float.NEGATIVE_INFINITY);
        FloatVector mx = FloatVector.broadcast(Simd.S, Float.NEGATIVE_INFINITY);
        for (int j = a; j < e; j += L) {
            FloatVector x = FloatVector.fromArray(Simd.S, s, o + j).mul(scale);
            x.intoArray(s, o + j);
            mx = mx.max(x);
        }
        mx.intoArray(lanes, 0); // the lane max in scalar code: reduceLanes(MAX) cost ~15 ns a row
        float m = lanes[0];
        for (int q = 1; q < L; q++) m = Math.max(m, lanes[q]); // max is exact in any order
        expPass(s, o, a, e, m, lanes);
        float l = Lanes.sum(lanes, 0), inv = 1 / l;
        for (int j = a; j < e; j += L) FloatVector.fromArray(Simd.S, s, o + j).mul(inv).intoArray(s, o + j);
        Arrays.fill(s, o, o + a, 0f);
        Arrays.fill(s, o + e, o + tkp, 0f);
        return (float) (m + Math.log(l));
    }

    /**
     * s[o + j] = e^(s[o + j] − m) for j in [a, e), leaving the lane-wise sums in lanes[0 .. L). On its own and
     * handing the sums back through an array: after the exp's many nodes C2 declines to inline further
     * calls, and a lane sum called from here would take its vector boxed and run the scalar fallback.
     */
    private static void expPass(float[] s, int o, int a, int e, float m, float[] lanes) {
        FloatVector sum = FloatVector.zero(Simd.S);
        for (int j = a; j < e; j += L) {
            FloatVector p = Simd.exp(FloatVector.fromArray(Simd.S, s, o + j).sub(m));
            p.intoArray(s, o + j);
            sum = sum.add(p);
        }
        sum.intoArray(lanes, 0);
    }

    /** Sets s[o + j] = fill for j in [a, lo) and (hi, e). */
    private static void maskOutside(float[] s, int o, int a, int lo, int hi, int e, float fill) {
        Arrays.fill(s, o + a, o + lo, fill);
        Arrays.fill(s, o + hi + 1, o + e, fill);
    }

    // ------------------------------------------------------------------ backward

    /** dq, dk, dv (contiguous, zero-filled, shapes of q, k, v) from the saved forward and g = ∂/∂out. */
    void backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor g, Tensor dq, Tensor dk, Tensor dv) {
        int group = hq / hkv;
        MemorySegment ls = lse.segment();
        Parallel.range((long) bsz * hkv, 1, (from, to) -> {
            Scratch w = new Scratch();
            for (long task = from; task < to; task++) {
                int b = (int) (task / hkv), hk = (int) (task % hkv);
                w.loadKv(k, v, b, hk, true);
                Arrays.fill(w.dk, 0f);
                Arrays.fill(w.dv, 0f);
                for (int h = hk * group; h < (hk + 1) * group; h++)
                    for (int i0 = 0; i0 < tq; i0 += TILE) {
                        int m = Math.min(TILE, tq - i0);
                        gather(q, b, i0, m, h, d, w.qa, dp);
                        gather(g, b, i0, m, h, d, w.ga, dp);
                        gather(out, b, i0, m, h, d, w.oa, dp);
                        for (int r = 0; r < m; r++) { // D_i = dO_i·O_i
                            float s = 0;
                            for (int c = 0; c < d; c++) s += w.ga[r * dp + c] * w.oa[r * dp + c];
                            w.delta[r] = s;
                        }
                        w.keyRanges(i0, m);
                        mul(w.qa, 0, dp, 1, w.kT, tkp, w.p, 0, tkp, m, false, w.zero, w.depth, w.keyFrom, w.keyTo);  // S = Q·Kᵀ
                        mul(w.ga, 0, dp, 1, w.vT, tkp, w.ds, 0, tkp, m, false, w.zero, w.depth, w.keyFrom, w.keyTo); // dP = dO·Vᵀ
                        for (int r = 0; r < m; r++) {
                            float li = ls.getAtIndex(ValueLayout.JAVA_FLOAT, lse.offset() + ((long) b * hq + h) * tq + i0 + r);
                            gradRow(w.p, w.ds, r * tkp, lo(i0 + r), hi(i0 + r), li, w.delta[r]);
                        }
                        int j0 = lo(i0), j1 = Math.min(tk, hi(i0 + m - 1) + 1); // keys this tile sees
                        if (j1 > j0) {
                            w.rowRanges(i0, m, j0, j1);
                            mul(w.p, j0, 1, tkp, w.ga, dp, w.dv, j0 * dp, dp, j1 - j0, true, w.rowFrom, w.rowTo, null, null); // dV += Pᵀ·dO
                            mul(w.ds, j0, 1, tkp, w.qa, dp, w.dk, j0 * dp, dp, j1 - j0, true, w.rowFrom, w.rowTo, null, null); // dK += dSᵀ·Q
                        }
                        Arrays.fill(w.oa, 0, m * dp, 0f);
                        mul(w.ds, 0, tkp, 1, w.kRows, dp, w.oa, 0, dp, m, true, w.keyFrom, w.keyTo, null, null); // dS·K
                        scatterRows(w.oa, dp, scale, dq, b, i0, m, h, d, w.row);
                    }
                scatterRows(w.dk, dp, scale, dk, b, 0, tk, hk, d, w.row); // this task owns rows (b, ·, hk) of dK and dV
                scatterRows(w.dv, dp, 1f, dv, b, 0, tk, hk, d, w.row);
            }
        });
    }

    /**
     * Row of P (scores in, e^(scale·s − L) out) and of dS (dP in, P ∘ (dP − D) out), zero outside [lo, hi]
     * over the whole padded row.
     */
    private void gradRow(float[] p, float[] ds, int o, int lo, int hi, float li, float delta) {
        int a = lo / L * L, e = ceil(hi + 1);
        maskOutside(p, o, a, lo, hi, e, Float.NEGATIVE_INFINITY);
        for (int j = a; j < e; j += L) {
            FloatVector pj = Simd.exp(FloatVector.fromArray(Simd.S, p, o + j).mul(scale).sub(li));
            pj.intoArray(p, o + j);
            pj.mul(FloatVector.fromArray(Simd.S, ds, o + j).sub(delta)).intoArray(ds, o + j);
        }
        maskOutside(ds, o, a, lo, hi, e, 0f);
        Arrays.fill(p, o, o + a, 0f);
        Arrays.fill(p, o + e, o + tkp, 0f);
        Arrays.fill(ds, o, o + a, 0f);
        Arrays.fill(ds, o + e, o + tkp, 0f);
    }

    // ------------------------------------------------------------------ the product

    /**
     * C[r, j] += Σ_k A(r, k)·B[k, j] (or = without {@code add}) for rows r in [0, m), with A(r, k) = a[aOff + r·aRow + k·aK], B[k, j] =
     * b[k·ldb + j] and C[r, j] = c[cOff + r·ldc + j]. For each block of 4 rows, k runs over the union of the
     * rows' [kFrom, kTo) and j over the whole vectors covering the union of their [jFrom, jTo) (null: [0, ldc)).
     * The caller guarantees A is zero wherever a row reads beyond its own range.
     */
    static void mul(float[] a, int aOff, int aRow, int aK, float[] b, int ldb, float[] c, int cOff, int ldc, int m, boolean add,
                    int[] kFrom, int[] kTo, int[] jFrom, int[] jTo) {
        for (int r = 0; r < m; r += 4) {
            int rows = Math.min(4, m - r);
            int kf = Integer.MAX_VALUE, kt = Integer.MIN_VALUE, jf = 0, jt = ldc;
            if (jFrom != null) { jf = Integer.MAX_VALUE; jt = Integer.MIN_VALUE; }
            for (int x = r; x < r + rows; x++) {
                kf = Math.min(kf, kFrom[x]);
                kt = Math.max(kt, kTo[x]);
                if (jFrom != null) { jf = Math.min(jf, jFrom[x]); jt = Math.max(jt, jTo[x]); }
            }
            if (kf >= kt || jf >= jt) continue;
            jf = jf / L * L;
            jt = Math.min(ldc, ceil(jt));
            int a0 = aOff + r * aRow;
            if (rows == 4) {
                int j = jf;
                for (; j + 2 * L <= jt; j += 2 * L) block4x2(a, a0, aRow, aK, b, ldb, c, cOff + r * ldc + j, ldc, kf, kt, j, add);
                for (; j < jt; j += L) block4x1(a, a0, aRow, aK, b, ldb, c, cOff + r * ldc + j, ldc, kf, kt, j, add);
            } else {
                for (int x = 0; x < rows; x++)
                    for (int j = jf; j < jt; j += L) block1x1(a, a0 + x * aRow, aK, b, ldb, c, cOff + (r + x) * ldc + j, kf, kt, j, add);
            }
        }
    }

    private static void block4x2(float[] a, int a0, int aRow, int aK, float[] b, int ldb, float[] c, int co, int ldc, int kf, int kt, int j, boolean add) {
        FloatVector c00 = FloatVector.zero(Simd.S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int k = kf; k < kt; k++) {
            int bo = k * ldb + j, ak = k * aK;
            FloatVector b0 = FloatVector.fromArray(Simd.S, b, bo), b1 = FloatVector.fromArray(Simd.S, b, bo + L);
            FloatVector x = FloatVector.broadcast(Simd.S, a[a0 + ak]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(Simd.S, a[a1 + ak]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(Simd.S, a[a2 + ak]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(Simd.S, a[a3 + ak]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        put(c, co, c00, add); put(c, co + L, c01, add);
        put(c, co + ldc, c10, add); put(c, co + ldc + L, c11, add);
        put(c, co + 2 * ldc, c20, add); put(c, co + 2 * ldc + L, c21, add);
        put(c, co + 3 * ldc, c30, add); put(c, co + 3 * ldc + L, c31, add);
    }

    private static void block4x1(float[] a, int a0, int aRow, int aK, float[] b, int ldb, float[] c, int co, int ldc, int kf, int kt, int j, boolean add) {
        FloatVector c0 = FloatVector.zero(Simd.S), c1 = c0, c2 = c0, c3 = c0;
        int a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int k = kf; k < kt; k++) {
            int ak = k * aK;
            FloatVector b0 = FloatVector.fromArray(Simd.S, b, k * ldb + j);
            c0 = FloatVector.broadcast(Simd.S, a[a0 + ak]).fma(b0, c0);
            c1 = FloatVector.broadcast(Simd.S, a[a1 + ak]).fma(b0, c1);
            c2 = FloatVector.broadcast(Simd.S, a[a2 + ak]).fma(b0, c2);
            c3 = FloatVector.broadcast(Simd.S, a[a3 + ak]).fma(b0, c3);
        }
        put(c, co, c0, add); put(c, co + ldc, c1, add); put(c, co + 2 * ldc, c2, add); put(c, co + 3 * ldc, c3, add);
    }

    private static void block1x1(float[] a, int a0, int aK, float[] b, int ldb, float[] c, int co, int kf, int kt, int j, boolean add) {
        FloatVector c0 = FloatVector.zero(Simd.S);
        for (int k = kf; k < kt; k++) c0 = FloatVector.broadcast(Simd.S, a[a0 + k * aK]).fma(FloatVector.fromArray(Simd.S, b, k * ldb + j), c0);
        put(c, co, c0, add);
    }

    private static void put(float[] c, int o, FloatVector v, boolean add) {
        (add ? FloatVector.fromArray(Simd.S, c, o).add(v) : v).intoArray(c, o);
    }
}
