package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Causal scaled dot-product attention over a KV cache for prefill and decode (Vaswani et al. 2017, eq. 1,
 * with grouped-query heads, Ainslie et al. 2023): query i sits at position p = startPos + i and attends to
 * cached positions j with j ≤ p (and j &gt; p − window when a sliding window is set);
 * out = softmax(q·Kᵀ/√hd)·V. Query head h reads kv head h / (nHeads / nKv). Each (query, head) pair is
 * independent and runs on the pool.
 */
final class Attention {
    private Attention() {}

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
        int group = nHeads / nKv;
        float scale = (float) (1 / Math.sqrt(hd));
        Tensor out = Tensor.empty(DType.F32, t, nHeads, hd);
        MemorySegment sq = q.segment(), sk = kCache.segment(), sv = vCache.segment(), so = out.segment();
        long qb = q.byteOffset(), kb = kCache.byteOffset(), vb = vCache.byteOffset();
        long rowStride = 4L * nKv * hd; // bytes between positions in the caches
        // one task per (query, kv head): the `group` query heads sharing a kv head read each cached row
        // once while it is in L1, instead of streaming the whole cache once per query head
        long tasks = (long) t * nKv;
        long work = Math.max(1, (long) (startPos + t) * hd * group);
        Parallel.range(tasks, Math.max(1, (1 << 16) / work), (lo, hi) -> {
            float[][] scores = new float[group][startPos + t];
            float[][] acc = new float[group][hd];
            float[] invSum = new float[group];
            for (long task = lo; task < hi; task++) {
                int i = (int) (task / nKv), kvh = (int) (task % nKv);
                int pos = startPos + i;
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int len = pos + 1 - first;
                long ko = kb + 4L * kvh * hd + first * rowStride, vo = vb + 4L * kvh * hd + first * rowStride;
                long q0 = qb + 4L * ((long) i * nHeads + (long) kvh * group) * hd;
                for (int j = 0; j < len; j++) // s_j = q·k_j / √hd for every head of the group
                    for (int g = 0; g < group; g++)
                        scores[g][j] = Kernels.dot(sq, q0 + 4L * g * hd, sk, ko + j * rowStride, hd) * scale;
                for (int g = 0; g < group; g++) {
                    float sum = Kernels.expShiftedInPlace(scores[g], len); // e_j = exp(s_j − max s), returns Σ e_j
                    invSum[g] = 1 / sum;
                    Arrays.fill(acc[g], 0f);
                }
                for (int j = 0; j < len; j++) // acc = Σ_j e_j · v_j
                    for (int g = 0; g < group; g++) Kernels.axpy(scores[g][j], sv, vo + j * rowStride, acc[g], hd);
                for (int g = 0; g < group; g++) {
                    float inv = invSum[g];
                    float[] a = acc[g];
                    long oo = 4L * ((long) i * nHeads + (long) kvh * group + g) * hd;
                    int d = 0;
                    for (int bound = F.loopBound(hd); d < bound; d += F.length())
                        FloatVector.fromArray(F, a, d).mul(inv).intoMemorySegment(so, oo + 4L * d, Elementwise.LE);
                    for (; d < hd; d++) so.set(FL, oo + 4L * d, a[d] * inv);
                }
            }
        });
        return out;
    }
}
