package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Allocator counters per category, relabel, block cache, and MemoryScope ownership rules. */
class AllocatorTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after AllocatorTest"); }

    @Test
    void liveAndPeakPerCategory() {
        long w0 = Allocator.liveBytes(MemoryCategory.WEIGHTS), g0 = Allocator.liveBytes(MemoryCategory.GRADIENTS);
        Allocator.resetPeak();
        long peak0 = Allocator.peakBytes();
        Tensor w = Tensor.zeros(DType.F32, MemoryCategory.WEIGHTS, 100); // 400 bytes -> 448 (64-byte blocks)
        Tensor g = Tensor.zeros(DType.F64, MemoryCategory.GRADIENTS, 3); // 24 -> 64
        assertEquals(w0 + 448, Allocator.liveBytes(MemoryCategory.WEIGHTS));
        assertEquals(g0 + 64, Allocator.liveBytes(MemoryCategory.GRADIENTS));
        assertEquals(peak0 + 512, Allocator.peakBytes());
        assertEquals(w0 + 448, Allocator.snapshot().get(MemoryCategory.WEIGHTS));
        w.close();
        assertEquals(w0, Allocator.liveBytes(MemoryCategory.WEIGHTS));
        assertEquals(peak0 + 512, Allocator.peakBytes(), "peak survives the free");
        assertTrue(Allocator.peakBytes(MemoryCategory.WEIGHTS) >= w0 + 448);
        Allocator.resetPeak();
        assertEquals(Allocator.liveBytes(), Allocator.peakBytes());
        w.close(); // double close is harmless
        assertEquals(w0, Allocator.liveBytes(MemoryCategory.WEIGHTS));
        g.close();
        assertEquals(g0, Allocator.liveBytes(MemoryCategory.GRADIENTS));
    }

    @Test
    void relabelMovesBytesBetweenCategories() {
        long a0 = Allocator.liveBytes(MemoryCategory.ACTIVATIONS), o0 = Allocator.liveBytes(MemoryCategory.OPTIMIZER);
        Tensor t = Tensor.zeros(DType.F32, 1000);
        assertEquals(a0 + 4032, Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
        t.reshape(10, 100).label(MemoryCategory.OPTIMIZER); // a view relabels the shared storage
        assertEquals(MemoryCategory.OPTIMIZER, t.category());
        assertEquals(a0, Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
        assertEquals(o0 + 4032, Allocator.liveBytes(MemoryCategory.OPTIMIZER));
        t.close();
        assertEquals(o0, Allocator.liveBytes(MemoryCategory.OPTIMIZER), "freed from the category it was relabelled to");
        t.label(MemoryCategory.WEIGHTS); // relabel after close changes no counter
        assertEquals(a0, Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
        assertEquals(o0, Allocator.liveBytes(MemoryCategory.OPTIMIZER));
    }

    @Test
    void cacheReusesBlocksAndEmptyCacheReleasesThem() {
        Allocator.emptyCache();
        assertEquals(0, Allocator.cachedBytes());
        Tensor a = Tensor.empty(DType.F32, 12345);
        long addr = a.segment().address();
        a.close();
        long rounded = (12345L * 4 + 63) / 64 * 64;
        assertEquals(rounded, Allocator.cachedBytes());
        Tensor b = Tensor.empty(DType.F32, 12340); // same 64-byte-rounded size: the cached block comes back
        assertEquals(addr, b.segment().address());
        assertEquals(12340L * 4, b.segment().byteSize(), "the segment is the requested size, not the block's");
        assertEquals(0, Allocator.cachedBytes());
        assertThrows(IllegalStateException.class, () -> a.getDouble(0), "the old tensor must not see the reused block");
        b.close();
        Allocator.emptyCache();
        assertEquals(0, Allocator.cachedBytes());
        long before = Allocator.maxCachedBytes();
        try {
            Allocator.setMaxCachedBytes(0);
            Tensor.empty(DType.F32, 10).close();
            assertEquals(0, Allocator.cachedBytes(), "cache disabled");
        } finally {
            Allocator.setMaxCachedBytes(before);
        }
        assertThrows(IllegalArgumentException.class, () -> Allocator.allocate(-1, MemoryCategory.SCRATCH));
        assertThrows(IllegalArgumentException.class, () -> Tensor.empty(DType.F32, 2, -1));
    }

    @Test
    void scopesNestAndKeepHandsTensorsOutward() {
        long live = Allocator.liveBytes();
        Tensor escaped;
        try (var outer = MemoryScope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 64);
            Tensor kept;
            try (var inner = MemoryScope.open()) {
                Tensor tmp = a.add(1);
                kept = inner.keep(tmp.mul(2));
                assertEquals(1, inner.size()); // tmp and the mul result were registered; the result was kept
            }
            assertFalse(kept.isClosed(), "kept tensor moved to the outer scope");
            assertEquals(2, kept.getDouble(5));
            assertEquals(2, outer.size()); // a and kept
            escaped = outer.keep(kept);
            assertFalse(a.isClosed());
        }
        assertFalse(escaped.isClosed(), "kept from the outermost scope: the caller owns it");
        assertEquals(live + 256, Allocator.liveBytes());
        escaped.close();
        assertEquals(live, Allocator.liveBytes());
    }

    @Test
    void scopesCloseInOrderAndViewsDoNotOwn() {
        var outer = MemoryScope.open();
        var inner = MemoryScope.open();
        Tensor t = Tensor.zeros(DType.F32, 8);
        assertThrows(IllegalStateException.class, outer::close);
        // regression: the failed close must leave outer usable, so the right order still frees everything
        inner.close();
        assertTrue(t.isClosed());
        Tensor u = Tensor.zeros(DType.F32, 8);
        outer.close();
        assertTrue(u.isClosed());
        outer.close(); // idempotent
        // a scope opened on another thread does not own this thread's tensors
        Tensor mine = Tensor.zeros(DType.F32, 4);
        try (var s = MemoryScope.open()) {
            Tensor view = mine.reshape(2, 2);
            s.keep(view); // keeping a view of storage the scope never owned is a no-op
        }
        assertFalse(mine.isClosed());
        mine.close();
    }

    @Test
    void wrappedMemoryIsNotCounted() {
        long live = Allocator.liveBytes();
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var seg = arena.allocate(64);
            Tensor w = Tensor.wrap(seg, DType.F32, 4, 4);
            w.fill(3);
            assertEquals(live, Allocator.liveBytes());
            w.close(); // not owned: the arena still holds the bytes
            assertEquals(3f, seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 15));
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(seg, DType.F32, 17));
        }
    }
}
