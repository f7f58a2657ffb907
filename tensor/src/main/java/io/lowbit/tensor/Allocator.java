package io.lowbit.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
    private static final BlockLedger<Block> LEDGER = new BlockLedger<>(4L << 30);

    private Allocator() {}

    /** Allocates {@code bytes} (uninitialized) for {@code category}. */
    public static Storage allocate(long bytes, MemoryCategory category) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long rounded = Math.max(ALIGN, (bytes + ALIGN - 1) & ~(ALIGN - 1));
        Block reuse = LEDGER.take(rounded, category);
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
                    LEDGER.untake(rounded, category);
                    throw new OutOfMemoryError("lowbit allocator: cannot allocate " + bytes + " bytes for "
                            + category + " (live " + liveBytes() + " bytes)");
                }
            }
            b = new Block(arena, whole, whole.asSlice(0, bytes));
        }
        return new Storage(b, category);
    }

    static void release(Block b, MemoryCategory category) {
        if (!LEDGER.give(b, b.whole().byteSize(), category)) b.arena().close();
    }

    static void relabel(long bytes, MemoryCategory from, MemoryCategory to) {
        LEDGER.relabel(Math.max(ALIGN, (bytes + ALIGN - 1) & ~(ALIGN - 1)), from, to);
    }

    /** Closes every cached block's arena, returning the memory to the operating system. */
    public static void emptyCache() {
        for (Block b : LEDGER.drain()) b.arena().close();
    }

    /** Bytes handed out and not yet returned, over all categories. */
    public static long liveBytes() {
        return LEDGER.liveBytes();
    }

    /** Live bytes of one category. */
    public static long liveBytes(MemoryCategory c) {
        return LEDGER.liveBytes(c);
    }

    /** Highest {@link #liveBytes()} since the last {@link #resetPeak()}. */
    public static long peakBytes() {
        return LEDGER.peakBytes();
    }

    /** Highest live bytes of one category since the last {@link #resetPeak()}. */
    public static long peakBytes(MemoryCategory c) {
        return LEDGER.peakBytes(c);
    }

    /** Starts a new peak measurement from the current live bytes. */
    public static void resetPeak() {
        LEDGER.resetPeak();
    }

    /** Bytes held in the cache of freed blocks (not live). */
    public static long cachedBytes() {
        return LEDGER.cachedBytes();
    }

    /** The cache limit in bytes. */
    public static long maxCachedBytes() {
        return LEDGER.maxCachedBytes();
    }

    /** Sets the cache limit; 0 disables caching (every free closes its arena). */
    public static void setMaxCachedBytes(long bytes) {
        if (LEDGER.setMaxCachedBytes(bytes)) emptyCache();
    }

    /** Live bytes per category, in category order. */
    public static Map<MemoryCategory, Long> snapshot() {
        return LEDGER.snapshot();
    }
}
