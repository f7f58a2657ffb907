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
        long pairs = (long) t * nHeads;
        long work = Math.max(1, (long) (startPos + t) * hd);
        Parallel.range(pairs, Math.max(1, (1 << 16) / work), (lo, hi) -> {
            float[] scores = new float[startPos + t];
            float[] acc = new float[hd];
            for (long pair = lo; pair < hi; pair++) {
                int i = (int) (pair / nHeads), h = (int) (pair % nHeads), kvh = h / group;
                int pos = startPos + i;
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                long qo = qb + 4L * pair * hd, ko = kb + 4L * kvh * hd, vo = vb + 4L * kvh * hd;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = first; j <= pos; j++) { // s_j = q·k_j / √hd
                    float s = Kernels.dot(sq, qo, sk, ko + j * rowStride, hd) * scale;
                    scores[j] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int j = first; j <= pos; j++) {
                    float e = (float) Math.exp(scores[j] - max);
                    scores[j] = e;
                    sum += e;
                }
                Arrays.fill(acc, 0f);
                for (int j = first; j <= pos; j++) Kernels.axpy(scores[j], sv, vo + j * rowStride, acc, hd);
                float inv = (float) (1 / sum);
                long oo = 4L * pair * hd;
                int d = 0;
                for (int bound = F.loopBound(hd); d < bound; d += F.length())
                    FloatVector.fromArray(F, acc, d).mul(inv).intoMemorySegment(so, oo + 4L * d, Elementwise.LE);
                for (; d < hd; d++) so.set(FL, oo + 4L * d, acc[d] * inv);
            }
        });
        return out;
    }
}
