package io.lowbit.models.tokenizer;

import it.unimi.dsi.fastutil.longs.LongHeapPriorityQueue;

/**
 * The BPE merge loop shared by both tokenizer formats (Sennrich et al. 2016, applied greedily as
 * SentencePiece's {@code bpe_model.cc} and HF's {@code word.rs} do): among all adjacent symbol pairs
 * that have a merge, apply the one with the lowest priority number (SentencePiece: best score of the
 * merged piece; HF: earliest merge rank), ties going to the leftmost pair; repeat until no pair merges.
 * A heap of (priority, position) with lazy invalidation makes this O(n log n).
 */
final class BpeMerger {
    /** Marks a symbol that was absorbed into its left neighbour. */
    private static final int DEAD = Integer.MIN_VALUE;

    private BpeMerger() {
    }

    /** Merge table of one tokenizer. */
    interface Rule {
        /**
         * For adjacent symbol ids {@code (left, right)}: -1 if they do not merge, else
         * {@code (long) priority << 32 | resultId} with {@code priority >= 0} (lower merges first).
         */
        long find(int left, int right);
    }

    /** Observes each merge (SentencePiece uses it to split UNUSED pieces back up). */
    interface Listener {
        void merged(int left, int right, int result);
    }

    static long pack(int priority, int resultId) {
        return (long) priority << 32 | (resultId & 0xFFFFFFFFL);
    }

    /**
     * Merges {@code sym[0, n)} in place and returns the new length. Negative ids stand for symbols outside
     * the vocabulary; they never merge.
     */
    static int merge(int[] sym, int n, Rule rule, Listener listener) {
        if (n < 2) return n;
        int[] next = new int[n], prev = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeapPriorityQueue heap = new LongHeapPriorityQueue(n);
        for (int i = 0; i + 1 < n; i++) offer(heap, sym, next, i, rule);
        while (!heap.isEmpty()) {
            long e = heap.dequeueLong();
            int pos = (int) e, priority = (int) (e >>> 32);
            int r = next[pos];
            if (sym[pos] < 0 || r < 0 || sym[r] < 0) continue; // dead, at the end, or unknown
            long f = rule.find(sym[pos], sym[r]);
            if (f < 0 || (int) (f >>> 32) != priority) continue; // stale entry: this pair changed since it was queued
            int result = (int) f;
            if (listener != null) listener.merged(sym[pos], sym[r], result);
            sym[pos] = result;
            sym[r] = DEAD;
            next[pos] = next[r];
            if (next[r] >= 0) prev[next[r]] = pos;
            if (prev[pos] >= 0) offer(heap, sym, next, prev[pos], rule);
            if (next[pos] >= 0) offer(heap, sym, next, pos, rule);
        }
        int m = 0;
        for (int i = 0; i < n; i++) if (sym[i] != DEAD) sym[m++] = sym[i];
        return m;
    }

    private static void offer(LongHeapPriorityQueue heap, int[] sym, int[] next, int i, Rule rule) {
        int r = next[i];
        if (r < 0 || sym[i] < 0 || sym[r] < 0) return;
        long f = rule.find(sym[i], sym[r]);
        if (f >= 0) heap.enqueue((f >>> 32) << 32 | i);
    }
}
