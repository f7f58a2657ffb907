package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The per-category counters and the size-keyed block cache both allocators share, on exact small cases. */
class BlockLedgerTest {
    @Test
    void countsLiveAndPeakPerCategoryAndCachesUpToTheLimit() {
        BlockLedger<String> l = new BlockLedger<>(1000);
        assertNull(l.take(512, MemoryCategory.WEIGHTS), "empty cache: allocate");
        assertNull(l.take(256, MemoryCategory.ACTIVATIONS));
        assertEquals(768, l.liveBytes());
        assertEquals(512, l.liveBytes(MemoryCategory.WEIGHTS));
        assertTrue(l.give("a", 512, MemoryCategory.WEIGHTS), "fits the 1000-byte cache");
        assertFalse(l.give("b", 600, MemoryCategory.ACTIVATIONS), "512 + 600 > 1000: the caller frees it");
        assertEquals(-344, l.liveBytes(MemoryCategory.ACTIVATIONS), "the ledger counts what it is told, even a wrong size");
        l.untake(-344, MemoryCategory.ACTIVATIONS);
        assertEquals(0, l.liveBytes());
        assertEquals(768, l.peakBytes());
        assertEquals(512, l.peakBytes(MemoryCategory.WEIGHTS));
        assertEquals(512, l.cachedBytes());
        assertNull(l.take(256, MemoryCategory.SCRATCH), "no cached block of that size");
        assertEquals("a", l.take(512, MemoryCategory.SCRATCH), "the cached 512-byte block comes back");
        assertEquals(0, l.cachedBytes());
        assertEquals(768, l.liveBytes(MemoryCategory.SCRATCH));
        l.relabel(512, MemoryCategory.SCRATCH, MemoryCategory.GRADIENTS);
        assertEquals(256, l.liveBytes(MemoryCategory.SCRATCH));
        assertEquals(512, l.snapshot().get(MemoryCategory.GRADIENTS));
        l.resetPeak();
        assertEquals(768, l.peakBytes());
        assertEquals(256, l.peakBytes(MemoryCategory.SCRATCH));
        assertTrue(l.give("c", 512, MemoryCategory.GRADIENTS));
        assertTrue(l.setMaxCachedBytes(100), "the cache holds more than the new limit");
        assertEquals(java.util.List.of("c"), l.drain());
        assertEquals(0, l.cachedBytes());
        assertFalse(l.give("d", 256, MemoryCategory.SCRATCH), "over the new limit");
        assertEquals(0, l.liveBytes());
    }
}
