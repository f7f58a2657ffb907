package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal scaled dot-product attention over a KV cache for prefill and decode (Vaswani et al. 2017, eq. 1,
 * with grouped-query heads, Ainslie et al. 2023): query i sits at position p = startPos + i and attends to
 * cached positions j with j ≤ p (and j &gt; p − window when a sliding window is set);
 * out = softmax(q·Kᵀ/√hd)·V. Query head h reads kv head h / (nHeads / nKv).
 *
 * <p>Work is split into tasks of (block of {@link #BLOCK} queries) × (chunk of {@link #CHUNK} cache positions,
 * aligned to multiples of CHUNK), as in flash-decoding's split-K. A task's slice of the cache (CHUNK rows of
 * all kv heads) stays in L2 while it serves every head of every query in the block; per (query, head) the
 * scores of four rows at a time share each load of q, and the weighted sum of V keeps four vectors of the
 * head dimension in registers across positions. Each task keeps, per query and head, the chunk's max score
 * m, Σ exp(s − m) and Σ exp(s − m)·v; a query's chunks are then merged by rescaling with exp(m_c − max m).
 * Blocks, chunks and merge order do not depend on the thread count, so results are identical for any pool
 * size; decode (one query) still spreads across the pool through its chunks.
 */
final class Attention {
    private Attention() {}

    /** Cache positions per task. */
    static final int CHUNK = 128;
    /** Queries per task. */
    static final int BLOCK = 8;
    /** At most this many floats of partial results are held at once (bounds scratch memory in long prefills). */
    static final long PARTIAL_BUDGET = 8L << 20;

    static Tensor forward(Tensor q, Tensor kCache, Tensor vCache, int startPos, int window) {
        Kernels.f32("attention", "q", q);
        Kernels.f32("attention", "kCache", kCache);
        Kernels.f32("attention", "vCache", vCache);
        if (q.dim() != 3 || kCache.dim() != 3 || !Arrays.equals(kCache.shape(), vCache.shape()))
            throw new IllegalArgumentException("attention: need q [t, nHeads, hd] and equal kCache/vCache [T, nKv, hd], got q "
                    + Arrays.toString(q.shape()) + ", k " + Arrays.toString(kCache.shape()) + ", v " + Arrays.toString(vCache.shape()));
        int t = q.size(0), nHeads = q.size(1), hd = q.size(2);
        int capacity = kCache.size(0), nKv = kCache.size(1);
        if (kCache.size(2) != hd || nKv == 0 || nHeads % nKv != 0)
            throw new IllegalArgumentException("attention: q " + Arrays.toString(q.shape()) + " does not fit kv cache "
                    + Arrays.toString(kCache.shape()) + " (head dims must match and nHeads must be a multiple of nKv)");
        if (startPos < 0 || startPos + t > capacity)
            throw new IllegalArgumentException("attention: positions [" + startPos + ", " + (startPos + t) + ") exceed the kv cache of "
                    + capacity + " positions");
        if (window < 0) throw new IllegalArgumentException("attention: window must be >= 0 (0 = none), got " + window);
        Tensor out = Tensor.empty(DType.F32, t, nHeads, hd);
        Plan plan = new Plan(q, kCache, vCache, out, nHeads, nKv, hd);
        // queries run in waves of whole blocks (1 to 4), as many as the partial-result budget allows; blocks
        // start at multiples of BLOCK whatever the wave size, so the numbers do not depend on it
        long perBlock = ((startPos + t) / CHUNK + 1L) * BLOCK * nHeads * (hd + 2);
        int wave = BLOCK * (int) Math.max(1, Math.min(4, PARTIAL_BUDGET / perBlock));
        for (int w0 = 0; w0 < t; w0 += wave) wave(plan, w0, Math.min(t, w0 + wave), startPos, window);
        return out;
    }

    /** The operands as raw memory, and the head geometry. */
    private record Plan(MemorySegment sq, long qb, MemorySegment sk, long kb, MemorySegment sv, long vb, MemorySegment so,
                        int nHeads, int group, int hd, long rowStride, float scale) {
        Plan(Tensor q, Tensor k, Tensor v, Tensor out, int nHeads, int nKv, int hd) {
            this(q.segment(), q.byteOffset(), k.segment(), k.byteOffset(), v.segment(), v.byteOffset(), out.segment(),
                    nHeads, nHeads / nKv, hd, 4L * nKv * hd, (float) (1 / Math.sqrt(hd)));
        }
    }

    /** Queries [w0, w1): run every (query block, chunk) task, then merge each query's chunks into its output rows. */
    private static void wave(Plan p, int w0, int w1, int startPos, int window) {
        int blocks = (w1 - w0 + BLOCK - 1) / BLOCK;
        int[] blockFirstTask = new int[blocks + 1], taskChunk = new int[16];
        int tasks = 0;
        for (int b = 0; b < blocks; b++) {
            blockFirstTask[b] = tasks;
            int i0 = w0 + b * BLOCK, i1 = Math.min(w1, i0 + BLOCK);
            int lo = firstPosition(startPos + i0, window), hi = startPos + i1 - 1; // positions any query of the block reads
            for (int c = lo / CHUNK; c <= hi / CHUNK; c++) {
                if (tasks == taskChunk.length) taskChunk = Arrays.copyOf(taskChunk, 2 * tasks);
                taskChunk[tasks++] = c;
            }
        }
        blockFirstTask[blocks] = tasks;
        int slot = p.hd() + 2; // per (task, query in block, head): m, l, then acc[hd]
        float[] part = new float[tasks * BLOCK * p.nHeads() * slot];
        int[] chunks = taskChunk;
        Parallel.range(tasks, 1, (lo, hi) -> {
            float[][][] s = new float[BLOCK][p.nHeads()][CHUNK];
            int b = 0;
            for (long task = lo; task < hi; task++) {
                while (blockFirstTask[b + 1] <= task) b++;
                int i0 = w0 + b * BLOCK, i1 = Math.min(w1, i0 + BLOCK);
                chunk(p, i0, i1, startPos, window, chunks[(int) task], s, part, (int) task * BLOCK * p.nHeads() * slot);
            }
        });
        for (int i = w0; i < w1; i++) {
            int b = (i - w0) / BLOCK;
            merge(p, i, i - w0 - b * BLOCK, part, blockFirstTask[b], blockFirstTask[b + 1]);
        }
    }

    private static int firstPosition(int pos, int window) {
        return window > 0 ? Math.max(0, pos - window + 1) : 0;
    }

    /**
     * For queries [i0, i1) and cache chunk c: per query and head, the max score m, l = Σ exp(s − m) and
     * acc = Σ exp(s − m)·v over the chunk's positions that query may see (m = −∞, l = 0 if none).
     */
    private static void chunk(Plan p, int i0, int i1, int startPos, int window, int c, float[][][] s, float[] part, int base) {
        int hd = p.hd(), nHeads = p.nHeads(), group = p.group(), nKv = nHeads / group, slot = hd + 2;
        int c0 = c * CHUNK, c1 = c0 + CHUNK;
        int[] lo = new int[BLOCK], hi = new int[BLOCK];
        for (int i = i0; i < i1; i++) { // the part of the chunk query i sees: [lo, hi)
            int pos = startPos + i;
            lo[i - i0] = Math.max(c0, firstPosition(pos, window));
            hi[i - i0] = Math.min(c1, pos + 1);
        }
        for (int qi = 0; qi < i1 - i0; qi++) { // s_hj = q_h·k_j / √hd
            long qrow = p.qb() + 4L * (i0 + qi) * nHeads * hd;
            for (int kvh = 0, h = 0; kvh < nKv; kvh++) // h = kvh·group + g, without a division per head
                for (int g = 0; g < group; g++, h++)
                    scores(p.sq(), qrow + 4L * h * hd, p.sk(), p.kb() + lo[qi] * p.rowStride() + 4L * kvh * hd, p.rowStride(),
                            hi[qi] - lo[qi], hd, p.scale(), s[qi][h]);
        }
        for (int qi = 0; qi < i1 - i0; qi++)
            for (int h = 0; h < nHeads; h++) {
                int o = base + (qi * nHeads + h) * slot, n = hi[qi] - lo[qi];
                if (n <= 0) { // acc is written (as zeros) by weightedSum below
                    part[o] = Float.NEGATIVE_INFINITY;
                    part[o + 1] = 0;
                    continue;
                }
                float m = Kernels.max(s[qi][h], n);
                part[o] = m;
                part[o + 1] = Kernels.expShiftedInPlace(s[qi][h], n, m); // e = exp(s − m), l = Σ e
            }
        for (int qi = 0; qi < i1 - i0; qi++) // acc_h = Σ_j e_hj · v_j
            for (int kvh = 0, h = 0; kvh < nKv; kvh++)
                for (int g = 0; g < group; g++, h++)
                    weightedSum(s[qi][h], p.sv(), p.vb() + lo[qi] * p.rowStride() + 4L * kvh * hd, p.rowStride(), hi[qi] - lo[qi],
                            part, base + (qi * nHeads + h) * slot + 2, hd);
    }

    /**
     * out[j] = scale·(q·k_j) for j &lt; n, where row k_j starts at byte kb + j·rowStride: four rows at a time
     * share each load of q and keep four independent accumulators.
     */
    private static void scores(MemorySegment sq, long qb, MemorySegment sk, long kb, long rowStride, int n, int hd, float scale, float[] out) {
        int step = F.length(), j = 0;
        for (; j + 4 <= n; j += 4) {
            long k0 = kb + j * rowStride, k1 = k0 + rowStride, k2 = k1 + rowStride, k3 = k2 + rowStride;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int d = 0;
            for (; d + step <= hd; d += step) {
                FloatVector q = FloatVector.fromMemorySegment(F, sq, qb + 4L * d, Elementwise.LE);
                a0 = FloatVector.fromMemorySegment(F, sk, k0 + 4L * d, Elementwise.LE).fma(q, a0);
                a1 = FloatVector.fromMemorySegment(F, sk, k1 + 4L * d, Elementwise.LE).fma(q, a1);
                a2 = FloatVector.fromMemorySegment(F, sk, k2 + 4L * d, Elementwise.LE).fma(q, a2);
                a3 = FloatVector.fromMemorySegment(F, sk, k3 + 4L * d, Elementwise.LE).fma(q, a3);
            }
            float s0 = Lanes.sum(a0), s1 = Lanes.sum(a1);
            float s2 = Lanes.sum(a2), s3 = Lanes.sum(a3);
            for (; d < hd; d++) {
                float q = sq.get(FL, qb + 4L * d);
                s0 = Math.fma(q, sk.get(FL, k0 + 4L * d), s0);
                s1 = Math.fma(q, sk.get(FL, k1 + 4L * d), s1);
                s2 = Math.fma(q, sk.get(FL, k2 + 4L * d), s2);
                s3 = Math.fma(q, sk.get(FL, k3 + 4L * d), s3);
            }
            out[j] = s0 * scale;
            out[j + 1] = s1 * scale;
            out[j + 2] = s2 * scale;
            out[j + 3] = s3 * scale;
        }
        for (; j < n; j++) out[j] = Kernels.dot(sq, qb, sk, kb + j * rowStride, hd) * scale;
    }

    /**
     * y[yo + d] = Σ_{j &lt; n} e[j]·v_j[d] for d &lt; hd, where row v_j starts at byte vb + j·rowStride. The
     * sums for four vectors of d stay in registers while j runs, so y is written once instead of per row.
     */
    private static void weightedSum(float[] e, MemorySegment sv, long vb, long rowStride, int n, float[] y, int yo, int hd) {
        int step = F.length(), d = 0;
        for (; d + 4 * step <= hd; d += 4 * step) {
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            long row = vb + 4L * d;
            for (int j = 0; j < n; j++, row += rowStride) {
                FloatVector w = FloatVector.broadcast(F, e[j]);
                a0 = FloatVector.fromMemorySegment(F, sv, row, Elementwise.LE).fma(w, a0);
                a1 = FloatVector.fromMemorySegment(F, sv, row + 4L * step, Elementwise.LE).fma(w, a1);
                a2 = FloatVector.fromMemorySegment(F, sv, row + 8L * step, Elementwise.LE).fma(w, a2);
                a3 = FloatVector.fromMemorySegment(F, sv, row + 12L * step, Elementwise.LE).fma(w, a3);
            }
            a0.intoArray(y, yo + d);
            a1.intoArray(y, yo + d + step);
            a2.intoArray(y, yo + d + 2 * step);
            a3.intoArray(y, yo + d + 3 * step);
        }
        for (; d + step <= hd; d += step) {
            FloatVector a = FloatVector.zero(F);
            long row = vb + 4L * d;
            for (int j = 0; j < n; j++, row += rowStride) a = FloatVector.fromMemorySegment(F, sv, row, Elementwise.LE).fma(FloatVector.broadcast(F, e[j]), a);
            a.intoArray(y, yo + d);
        }
        for (; d < hd; d++) {
            float a = 0;
            long at = vb + 4L * d;
            for (int j = 0; j < n; j++, at += rowStride) a = Math.fma(e[j], sv.get(FL, at), a);
            y[yo + d] = a;
        }
    }

    /**
     * out_h = Σ_c exp(m_c − M)·acc_c / Σ_c exp(m_c − M)·l_c over the tasks [t0, t1) of query i's block
     * (qi is its index in the block; chunks it does not see have l = 0 and are skipped).
     */
    private static void merge(Plan p, int i, int qi, float[] part, int t0, int t1) {
        int hd = p.hd(), nHeads = p.nHeads(), slot = hd + 2;
        float[] acc = new float[hd];
        for (int h = 0; h < nHeads; h++) {
            float mMax = Float.NEGATIVE_INFINITY;
            for (int c = t0; c < t1; c++) mMax = Math.max(mMax, part[((c * BLOCK + qi) * nHeads + h) * slot]);
            Arrays.fill(acc, 0f);
            double l = 0;
            for (int c = t0; c < t1; c++) {
                int o = ((c * BLOCK + qi) * nHeads + h) * slot;
                if (part[o + 1] == 0) continue;
                float w = (float) Math.exp(part[o] - mMax);
                l += w * part[o + 1];
                FloatVector vw = FloatVector.broadcast(F, w);
                int d = 0;
                for (int bound = F.loopBound(hd); d < bound; d += F.length())
                    FloatVector.fromArray(F, part, o + 2 + d).fma(vw, FloatVector.fromArray(F, acc, d)).intoArray(acc, d);
                for (; d < hd; d++) acc[d] = Math.fma(w, part[o + 2 + d], acc[d]);
            }
            float inv = (float) (1 / l);
            long oo = 4L * ((long) i * nHeads + h) * hd;
            int d = 0;
            for (int bound = F.loopBound(hd); d < bound; d += F.length())
                FloatVector.fromArray(F, acc, d).mul(inv).intoMemorySegment(p.so(), oo + 4L * d, Elementwise.LE);
            for (; d < hd; d++) p.so().set(FL, oo + 4L * d, acc[d] * inv);
        }
    }
}
