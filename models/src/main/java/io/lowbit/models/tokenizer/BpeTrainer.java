package io.lowbit.models.tokenizer;

import it.unimi.dsi.fastutil.ints.IntArrayList;
import it.unimi.dsi.fastutil.longs.Long2LongMap;
import it.unimi.dsi.fastutil.longs.Long2LongOpenHashMap;
import it.unimi.dsi.fastutil.longs.Long2ObjectOpenHashMap;
import it.unimi.dsi.fastutil.longs.LongComparators;
import it.unimi.dsi.fastutil.longs.LongHeapPriorityQueue;
import it.unimi.dsi.fastutil.objects.Object2IntLinkedOpenHashMap;
import it.unimi.dsi.fastutil.objects.Object2IntMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;

/**
 * Learns a byte-level BPE vocabulary from a corpus (Sennrich et al. 2016 with GPT-2's byte alphabet):
 * split the text with the GPT-2 regex, count each distinct word, start from the 256 byte symbols, and
 * repeatedly merge the most frequent adjacent pair (ties: the pair with the smaller left id, then
 * smaller right id) until the vocabulary has the requested size or no pair occurs {@code minFrequency}
 * times. Pair counts are updated incrementally: a merge only revisits the words that contain the pair,
 * and a max-heap with lazy invalidation finds the next pair.
 *
 * <p>Ids: the special tokens first (default {@code <unk>=0, <s>=1, </s>=2}, the Llama convention), then
 * the 256 bytes in byte order, then one id per merge in merge order.
 */
public final class BpeTrainer {
    /** Special tokens of a trained tokenizer unless told otherwise: unk, BOS, EOS. */
    public static final List<String> DEFAULT_SPECIALS = List.of("<unk>", "<s>", "</s>");
    /** Ids are packed in 16 bits inside the heap key. */
    public static final int MAX_VOCAB = 1 << 16;

    private final int vocabSize;
    private final int minFrequency;
    private final List<String> specials;

    /**
     * @param vocabSize    target size including specials and the 256 bytes
     * @param minFrequency a pair occurring fewer times than this is never merged (at least 1)
     * @param specials     special tokens, given the first ids in this order (e.g. {@link #DEFAULT_SPECIALS}); a "<s>" among them becomes BOS, "</s>" EOS
     */
    public BpeTrainer(int vocabSize, int minFrequency, List<String> specials) {
        if (new HashSet<>(specials).size() != specials.size()) throw new IllegalArgumentException("duplicate special tokens " + specials);
        for (String s : specials) if (s.isEmpty()) throw new IllegalArgumentException("empty special token in " + specials);
        int min = specials.size() + 256;
        if (vocabSize < min || vocabSize > MAX_VOCAB)
            throw new IllegalArgumentException("vocabSize " + vocabSize + " must be in [" + min + ", " + MAX_VOCAB + "] (" + specials.size() + " specials + 256 bytes at least)");
        if (minFrequency < 1) throw new IllegalArgumentException("minFrequency must be >= 1, got " + minFrequency);
        this.vocabSize = vocabSize;
        this.minFrequency = minFrequency;
        this.specials = List.copyOf(specials);
    }

    /** Trains on {@code corpus} (any Unicode text). */
    public TrainedBpe train(String corpus) {
        // 1. distinct pre-tokenized words (in the byte alphabet) with their counts, in first-seen order
        Object2IntLinkedOpenHashMap<String> wordCounts = new Object2IntLinkedOpenHashMap<>();
        for (String w : ByteLevel.splitGpt2(corpus)) wordCounts.addTo(ByteLevel.encode(w), 1);

        List<String> tokens = new ArrayList<>(specials);
        int base = tokens.size();
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(ByteLevel.byteToChar(b)));

        int nw = wordCounts.size();
        int[][] sym = new int[nw][];
        int[] len = new int[nw];
        long[] cnt = new long[nw];
        int w = 0;
        for (Object2IntMap.Entry<String> e : wordCounts.object2IntEntrySet()) {
            String s = e.getKey();
            sym[w] = new int[s.length()];
            for (int i = 0; i < s.length(); i++) sym[w][i] = base + ByteLevel.charToByte(s.charAt(i));
            len[w] = s.length();
            cnt[w] = e.getIntValue();
            w++;
        }

        // 2. initial pair counts and, per pair, the words holding it
        Long2LongOpenHashMap pairCount = new Long2LongOpenHashMap();
        Long2ObjectOpenHashMap<IntArrayList> pairWords = new Long2ObjectOpenHashMap<>();
        for (w = 0; w < nw; w++)
            for (int i = 0; i + 1 < len[w]; i++) {
                long p = pair(sym[w][i], sym[w][i + 1]);
                pairCount.addTo(p, cnt[w]);
                addWord(pairWords, p, w);
            }
        LongHeapPriorityQueue heap = new LongHeapPriorityQueue(Math.max(16, pairCount.size()), LongComparators.OPPOSITE_COMPARATOR);
        for (Long2LongMap.Entry e : pairCount.long2LongEntrySet()) heap.enqueue(heapKey(e.getLongValue(), e.getLongKey()));

        // 3. merge loop
        List<int[]> merges = new ArrayList<>();
        int[] stamp = new int[nw];
        Arrays.fill(stamp, -1);
        Long2LongOpenHashMap delta = new Long2LongOpenHashMap();
        while (tokens.size() < vocabSize && !heap.isEmpty()) {
            long key = heap.dequeueLong();
            long count = key >>> 32;
            int a = 0xFFFF - (int) ((key >>> 16) & 0xFFFF), b = 0xFFFF - (int) (key & 0xFFFF);
            long p = pair(a, b);
            if (pairCount.get(p) != count) continue; // stale heap entry
            if (count < minFrequency) break;
            int merged = tokens.size();
            tokens.add(tokens.get(a) + tokens.get(b));
            merges.add(new int[] {a, b});
            IntArrayList where = pairWords.remove(p);
            delta.clear();
            for (int k = 0; k < where.size(); k++) {
                w = where.getInt(k);
                if (stamp[w] == merged) continue;
                stamp[w] = merged;
                int[] s = sym[w];
                int n = len[w];
                boolean has = false;
                for (int i = 0; i + 1 < n && !has; i++) has = s[i] == a && s[i + 1] == b;
                if (!has) continue;
                for (int i = 0; i + 1 < n; i++) delta.addTo(pair(s[i], s[i + 1]), -cnt[w]);
                int m = 0;
                for (int i = 0; i < n; ) {
                    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                        s[m++] = merged;
                        i += 2;
                    } else s[m++] = s[i++];
                }
                len[w] = m;
                for (int i = 0; i + 1 < m; i++) {
                    long q = pair(s[i], s[i + 1]);
                    delta.addTo(q, cnt[w]);
                    if (s[i] == merged || s[i + 1] == merged) addWord(pairWords, q, w);
                }
            }
            for (Long2LongMap.Entry e : delta.long2LongEntrySet()) {
                if (e.getLongValue() == 0) continue;
                long q = e.getLongKey();
                long c = pairCount.addTo(q, e.getLongValue()) + e.getLongValue();
                if (c <= 0) {
                    pairCount.remove(q);
                    pairWords.remove(q);
                } else heap.enqueue(heapKey(c, q));
            }
        }
        return new TrainedBpe(tokens, merges, specials);
    }

    private static void addWord(Long2ObjectOpenHashMap<IntArrayList> pairWords, long p, int w) {
        IntArrayList l = pairWords.get(p);
        if (l == null) pairWords.put(p, l = new IntArrayList(4));
        if (l.isEmpty() || l.getInt(l.size() - 1) != w) l.add(w);
    }

    private static long pair(int a, int b) {
        return (long) a << 32 | b;
    }

    /** Max-heap key: count, then smaller left id, then smaller right id. */
    private static long heapKey(long count, long pair) {
        if (count >= 1L << 31) throw new IllegalArgumentException("pair count " + count + " exceeds 2^31; train on a smaller corpus");
        int a = (int) (pair >>> 32), b = (int) pair;
        return count << 32 | (long) (0xFFFF - a) << 16 | (0xFFFF - b);
    }
}
