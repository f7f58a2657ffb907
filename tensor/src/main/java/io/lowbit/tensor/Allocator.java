package io.lowbit.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * The CPU allocator: the one front door for off-heap tensor memory.
 *
 * <p>Every block is 64-byte aligned and lives in its own shared {@link Arena}, so any worker thread may
 * touch it. Freed blocks are cached by size and handed out again (training allocates the same shapes
 * every step); the cache is trimmed when it grows past {@link #maxCachedBytes()} and emptied by
 * {@link #emptyCache()}, which closes the arenas. Live bytes count blocks handed out and not yet
 * returned, per {@link MemoryCategory}; peaks are kept per category and in total. Tests assert
 * {@code liveBytes() == 0} after closing what they made.
 */
public final class Allocator {
    /** A block of off-heap memory and the arena that owns it. */
    record Block(Arena arena, MemorySegment whole, MemorySegment segment) {}

    private static final long ALIGN = 64;
    private static final Map<Long, ArrayDeque<Block>> CACHE = new HashMap<>();
    private static final long[] LIVE = new long[MemoryCategory.values().length];
    private static final long[] PEAK = new long[MemoryCategory.values().length];
    private static long liveTotal, peakTotal, cachedBytes;
    private static long maxCached = 4L << 30;

    private Allocator() {}

    /** Allocates {@code bytes} (uninitialized) for {@code category}. */
    public static Storage allocate(long bytes, MemoryCategory category) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long rounded = Math.max(ALIGN, (bytes + ALIGN - 1) & ~(ALIGN - 1));
        Block reuse = null;
        synchronized (Allocator.class) {
            ArrayDeque<Block> q = CACHE.get(rounded);
            if (q != null && !q.isEmpty()) {
                reuse = q.pop();
                cachedBytes -= rounded;
            }
            count(category, rounded);
        }
        Block b;
        if (reuse != null) {
            b = new Block(reuse.arena(), reuse.whole(), reuse.whole().asSlice(0, bytes));
        } else {
            Arena arena = Arena.ofShared();
            MemorySegment whole;
            try {
                whole = arena.allocate(rounded, ALIGN);
            } catch (OutOfMemoryError e) {
                arena.close();
                emptyCache();
                arena = Arena.ofShared();
                try {
                    whole = arena.allocate(rounded, ALIGN);
                } catch (OutOfMemoryError e2) {
                    arena.close();
                    synchronized (Allocator.class) {
                        count(category, -rounded);
                    }
                    throw new OutOfMemoryError("lowbit allocator: cannot allocate " + bytes + " bytes for "
                            + category + " (live " + liveBytes() + " bytes)");
                }
            }
            b = new Block(arena, whole, whole.asSlice(0, bytes));
        }
        return new Storage(b, category);
    }

    private static void count(MemoryCategory c, long delta) {
        int i = c.ordinal();
        LIVE[i] += delta;
        liveTotal += delta;
        if (LIVE[i] > PEAK[i]) PEAK[i] = LIVE[i];
        if (liveTotal > peakTotal) peakTotal = liveTotal;
    }

    static void release(Block b, MemoryCategory category) {
        long rounded = b.whole().byteSize();
        Arena toClose = null;
        synchronized (Allocator.class) {
            count(category, -rounded);
            if (cachedBytes + rounded <= maxCached) {
                CACHE.computeIfAbsent(rounded, k -> new ArrayDeque<>()).push(b);
                cachedBytes += rounded;
            } else {
                toClose = b.arena();
            }
        }
        if (toClose != null) toClose.close();
    }

    static void relabel(long bytes, MemoryCategory from, MemoryCategory to) {
        long rounded = Math.max(ALIGN, (bytes + ALIGN - 1) & ~(ALIGN - 1));
        synchronized (Allocator.class) {
            count(from, -rounded);
            count(to, rounded);
        }
    }

    /** Closes every cached block's arena, returning the memory to the operating system. */
    public static void emptyCache() {
        java.util.List<Block> all = new java.util.ArrayList<>();
        synchronized (Allocator.class) {
            for (ArrayDeque<Block> q : CACHE.values()) all.addAll(q);
            CACHE.clear();
            cachedBytes = 0;
        }
        for (Block b : all) b.arena().close();
    }

    /** Bytes handed out and not yet returned, over all categories. */
    public static synchronized long liveBytes() {
        return liveTotal;
    }

    /** Live bytes of one category. */
    public static synchronized long liveBytes(MemoryCategory c) {
        return LIVE[c.ordinal()];
    }

    /** Highest {@link #liveBytes()} since the last {@link #resetPeak()}. */
    public static synchronized long peakBytes() {
        return peakTotal;
    }

    /** Highest live bytes of one category since the last {@link #resetPeak()}. */
    public static synchronized long peakBytes(MemoryCategory c) {
        return PEAK[c.ordinal()];
    }

    /** Starts a new peak measurement from the current live bytes. */
    public static synchronized void resetPeak() {
        peakTotal = liveTotal;
        System.arraycopy(LIVE, 0, PEAK, 0, LIVE.length);
    }

    /** Bytes held in the cache of freed blocks (not live). */
    public static synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** The cache limit in bytes. */
    public static synchronized long maxCachedBytes() {
        return maxCached;
    }

    /** Sets the cache limit; 0 disables caching (every free closes its arena). */
    public static void setMaxCachedBytes(long bytes) {
        synchronized (Allocator.class) {
            maxCached = bytes;
        }
        if (cachedBytes() > bytes) emptyCache();
    }

    /** Live bytes per category, in category order. */
    public static synchronized Map<MemoryCategory, Long> snapshot() {
        Map<MemoryCategory, Long> m = new EnumMap<>(MemoryCategory.class);
        for (MemoryCategory c : MemoryCategory.values()) m.put(c, LIVE[c.ordinal()]);
        return m;
    }
}
