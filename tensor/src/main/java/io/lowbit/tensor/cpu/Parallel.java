package io.lowbit.tensor.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The one long-lived worker pool every CPU kernel shares. Work is split into at most {@link #threads()}
 * large chunks; the calling thread runs the first chunk itself and chunk i runs on worker i, so the chunks
 * of one call always run concurrently on distinct threads (kernels may synchronize between chunks).
 * Workers are daemon threads started on first use; after a job they spin briefly for the next one
 * (low dispatch latency for back-to-back kernels) and then park.
 *
 * <p>A call made from inside a chunk, or while another thread is using the pool, runs all of its work on
 * the calling thread. Thread count defaults to the available processors and can be set with
 * {@code -Dlowbit.threads=N} or {@link #setThreads(int)}.
 */
public final class Parallel {
    /** Body of a parallel loop over [lo, hi). */
    @FunctionalInterface
    public interface Range {
        void run(long lo, long hi);
    }

    /** How long an idle worker or a waiting caller spins before parking. */
    private static final long SPIN_NANOS = 50_000;

    private static volatile int threads = Integer.getInteger("lowbit.threads", Runtime.getRuntime().availableProcessors());
    private static final AtomicBoolean BUSY = new AtomicBoolean();
    /** Started workers; only touched by the thread holding BUSY. */
    private static Worker[] workers = new Worker[0];

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
        return Thread.currentThread() instanceof Worker;
    }

    /**
     * Runs body over [0, n) split into at most {@link #threads()} chunks of at least {@code grain} items,
     * all running at the same time on distinct threads (or all on the caller, see the class comment).
     * Exceptions in any chunk are rethrown on the caller after every chunk has finished.
     */
    public static void range(long n, long grain, Range body) {
        if (n <= 0) return;
        long chunks = Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || inWorker() || !BUSY.compareAndSet(false, true)) {
            body.run(0, n);
            return;
        }
        Job job;
        try {
            int c = (int) chunks;
            if (workers.length < c - 1) startWorkers(c - 1);
            job = new Job(body, n, c, Thread.currentThread());
            for (int i = 1; i < c; i++) workers[i - 1].submit(job);
            job.runChunk(0);
            job.awaitWorkers();
        } finally {
            BUSY.set(false);
        }
        Throwable e = job.error.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }

    private static void startWorkers(int count) {
        Worker[] grown = java.util.Arrays.copyOf(workers, count);
        for (int i = workers.length; i < count; i++) {
            grown[i] = new Worker(i + 1);
            grown[i].start();
        }
        workers = grown;
    }

    /** One parallel loop in flight: chunk i covers [n·i/chunks, n·(i+1)/chunks). */
    private static final class Job {
        final Range body;
        final long n;
        final int chunks;
        final Thread caller;
        final AtomicInteger pending;
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Job(Range body, long n, int chunks, Thread caller) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.caller = caller;
            this.pending = new AtomicInteger(chunks - 1);
        }

        void runChunk(int i) {
            try {
                body.run(n * i / chunks, n * (i + 1) / chunks);
            } catch (Throwable e) {
                error.compareAndSet(null, e);
            }
        }

        /** Called by a worker after its chunk. */
        void workerDone() {
            if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
        }

        void awaitWorkers() {
            long start = System.nanoTime();
            while (pending.get() != 0) {
                if (System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 1_000_000);
            }
        }
    }

    /** A pool thread: waits for a job, runs its chunk, repeats. */
    private static final class Worker extends Thread {
        private final int chunk;
        private volatile Job job;

        Worker(int chunk) {
            super("lowbit-worker-" + chunk);
            this.chunk = chunk;
            setDaemon(true);
        }

        void submit(Job j) {
            job = j;
            LockSupport.unpark(this);
        }

        @Override
        public void run() {
            while (true) {
                Job j = job;
                long idleSince = System.nanoTime();
                while (j == null) {
                    if (System.nanoTime() - idleSince < SPIN_NANOS) Thread.onSpinWait();
                    else LockSupport.park(this);
                    j = job;
                }
                j.runChunk(chunk);
                job = null;
                j.workerDone();
            }
        }
    }
}
