package io.lowbit.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The bookkeeping every caching allocator (host {@link Allocator}, the CUDA device allocator) does: live and
 * peak bytes per {@link MemoryCategory} and in total, and a cache of freed blocks keyed by their rounded
 * size, bounded by a byte limit. It never allocates or frees memory itself: {@link #take} and
 * {@link #give} tell the allocator whether a cached block is available or whether to free one. Thread-safe
 * (one lock per ledger).
 *
 * @param <B> the allocator's block type
 */
public final class BlockLedger<B> {
    private final Map<Long, ArrayDeque<B>> cache = new HashMap<>();
    private final long[] live = new long[MemoryCategory.values().length];
    private final long[] peak = new long[MemoryCategory.values().length];
    private long liveTotal, peakTotal, cachedBytes, maxCached;

    /** A ledger that caches up to {@code maxCached} bytes of freed blocks. */
    public BlockLedger(long maxCached) {
        this.maxCached = maxCached;
    }

    /** Counts {@code size} bytes live under {@code c} and returns a cached block of that size, or null (allocate one). */
    public synchronized B take(long size, MemoryCategory c) {
        ArrayDeque<B> q = cache.get(size);
        B b = q == null ? null : q.poll();
        if (b != null) cachedBytes -= size;
        count(c, size);
        return b;
    }

    /** Takes back the count of an allocation that failed after {@link #take}. */
    public synchronized void untake(long size, MemoryCategory c) {
        count(c, -size);
    }

    /** Returns a block of {@code size} bytes from {@code c}: true when it was cached, false when the caller must free it. */
    public synchronized boolean give(B b, long size, MemoryCategory c) {
        count(c, -size);
        if (cachedBytes + size > maxCached) return false;
        cache.computeIfAbsent(size, k -> new ArrayDeque<>()).push(b);
        cachedBytes += size;
        return true;
    }

    /** Moves {@code size} live bytes from one category to another. */
    public synchronized void relabel(long size, MemoryCategory from, MemoryCategory to) {
        count(from, -size);
        count(to, size);
    }

    private void count(MemoryCategory c, long delta) {
        int i = c.ordinal();
        live[i] += delta;
        liveTotal += delta;
        if (live[i] > peak[i]) peak[i] = live[i];
        if (liveTotal > peakTotal) peakTotal = liveTotal;
    }

    /** Empties the cache and returns its blocks for the caller to free. */
    public synchronized List<B> drain() {
        List<B> all = new ArrayList<>();
        for (ArrayDeque<B> q : cache.values()) all.addAll(q);
        cache.clear();
        cachedBytes = 0;
        return all;
    }

    /** Bytes handed out and not yet returned, over all categories. */
    public synchronized long liveBytes() {
        return liveTotal;
    }

    /** Live bytes of one category. */
    public synchronized long liveBytes(MemoryCategory c) {
        return live[c.ordinal()];
    }

    /** Highest {@link #liveBytes()} since the last {@link #resetPeak()}. */
    public synchronized long peakBytes() {
        return peakTotal;
    }

    /** Highest live bytes of one category since the last {@link #resetPeak()}. */
    public synchronized long peakBytes(MemoryCategory c) {
        return peak[c.ordinal()];
    }

    /** Starts a new peak measurement from the current live bytes. */
    public synchronized void resetPeak() {
        peakTotal = liveTotal;
        System.arraycopy(live, 0, peak, 0, live.length);
    }

    /** Bytes held in the cache (not live). */
    public synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** The cache limit in bytes. */
    public synchronized long maxCachedBytes() {
        return maxCached;
    }

    /** Sets the cache limit; returns true when the cache now holds more (the caller then drains it). */
    public synchronized boolean setMaxCachedBytes(long bytes) {
        maxCached = bytes;
        return cachedBytes > bytes;
    }

    /** Live bytes per category, in category order. */
    public synchronized Map<MemoryCategory, Long> snapshot() {
        Map<MemoryCategory, Long> m = new EnumMap<>(MemoryCategory.class);
        for (MemoryCategory c : MemoryCategory.values()) m.put(c, live[c.ordinal()]);
        return m;
    }
}
