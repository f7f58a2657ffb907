package io.lowbit.tensor.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one long-lived worker pool every CPU kernel shares. Work is split into a few large chunks; the
 * calling thread runs the first chunk itself. Thread count defaults to the available processors and can
 * be set with {@code -Dlowbit.threads=N} or {@link #setThreads(int)}.
 */
public final class Parallel {
    /** Body of a parallel loop over [lo, hi). */
    @FunctionalInterface
    public interface Range {
        void run(long lo, long hi);
    }

    private static volatile int threads = Integer.getInteger("lowbit.threads", Runtime.getRuntime().availableProcessors());
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "lowbit-worker");
        t.setDaemon(true);
        return t;
    });

    private Parallel() {}

    /** Number of threads kernels split work across. */
    public static int threads() {
        return threads;
    }

    /** Sets the number of threads (1 = run everything on the caller). */
    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        threads = n;
    }

    /** True when the current thread is a pool worker (nested parallel loops run serially there). */
    public static boolean inWorker() {
        return Thread.currentThread().getName().equals("lowbit-worker");
    }

    /**
     * Runs body over [0, n) split into at most {@link #threads()} chunks of at least {@code grain} items.
     * Exceptions in any chunk are rethrown on the caller.
     */
    public static void range(long n, long grain, Range body) {
        int t = threads;
        long chunks = Math.min(t, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || inWorker()) {
            if (n > 0) body.run(0, n);
            return;
        }
        int c = (int) chunks;
        CountDownLatch done = new CountDownLatch(c - 1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        for (int i = 1; i < c; i++) {
            long lo = n * i / c, hi = n * (i + 1) / c;
            POOL.execute(() -> {
                try {
                    body.run(lo, hi);
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
        }
        try {
            body.run(0, n / c);
        } catch (Throwable e) {
            error.compareAndSet(null, e);
        }
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for workers", e);
        }
        Throwable e = error.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }
}
