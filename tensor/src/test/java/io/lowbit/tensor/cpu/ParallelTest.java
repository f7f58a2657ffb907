package io.lowbit.tensor.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The worker pool's contract: exact coverage, concurrent chunks, serial nesting, exception propagation. */
class ParallelTest {
    private final int threadsAtStart = Parallel.threads();

    @AfterEach
    void restore() {
        Parallel.setThreads(threadsAtStart);
    }

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int t = 1; t <= 3; t++) {
            Parallel.setThreads(t);
            for (long n : new long[] {1, 2, 7, 1000, 12345}) {
                AtomicLongArray hits = new AtomicLongArray((int) n);
                for (int rep = 0; rep < 20; rep++)
                    Parallel.range(n, 3, (lo, hi) -> {
                        for (long i = lo; i < hi; i++) hits.incrementAndGet((int) i);
                    });
                for (int i = 0; i < n; i++) assertEquals(20, hits.get(i), "index " + i + " of " + n + " with " + t + " threads");
            }
        }
    }

    @Test
    void chunksRunConcurrentlyOnDistinctThreads() throws Exception {
        Parallel.setThreads(3);
        CyclicBarrier barrier = new CyclicBarrier(3);
        AtomicInteger chunks = new AtomicInteger();
        // would time out if two chunks ran one after the other on the same thread
        Parallel.range(3, 1, (lo, hi) -> {
            chunks.incrementAndGet();
            try {
                barrier.await(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertEquals(3, chunks.get());
    }

    @Test
    void nestedCallsRunOnTheCallingThread() {
        Parallel.setThreads(2);
        AtomicInteger inner = new AtomicInteger();
        Parallel.range(2, 1, (lo, hi) -> Parallel.range(100, 1, (a, b) -> {
            assertEquals(0, a);
            assertEquals(100, b);
            inner.incrementAndGet();
        }));
        assertEquals(2, inner.get());
    }

    @Test
    void exceptionsReachTheCaller() {
        Parallel.setThreads(2);
        var e = assertThrows(IllegalArgumentException.class, () -> Parallel.range(10, 1, (lo, hi) -> {
            if (lo > 0) throw new IllegalArgumentException("chunk at " + lo);
        }));
        assertTrue(e.getMessage().startsWith("chunk at"), e.getMessage());
        AtomicInteger ok = new AtomicInteger();
        Parallel.range(10, 1, (lo, hi) -> ok.addAndGet((int) (hi - lo)));
        assertEquals(10, ok.get(), "pool usable after a failed job");
        assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
    }
}
