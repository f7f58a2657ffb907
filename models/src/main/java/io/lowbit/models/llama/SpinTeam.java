package io.lowbit.models.llama;

import io.lowbit.tensor.cpu.Parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A small fixed team of threads for the many short parallel loops of one decoding step (a few dozen per
 * token, each tens of microseconds). Handing work to a pool and waiting on a latch costs about as much as the
 * work itself, so team members spin on a generation counter between loops, as OpenMP workers do, then yield
 * (so an oversubscribed machine still makes progress) and park only after {@link #SPIN_NANOS} without work. The caller runs chunk 0 itself. Chunks are the same
 * contiguous split as {@link Parallel#range}, so a loop body gives the same result for any team size as long
 * as each index's work does not depend on its chunk. One caller at a time.
 */
final class SpinTeam implements AutoCloseable {
    /** How long an idle member spins before parking. */
    static final long SPIN_NANOS = 200_000;

    private final int size;
    private final Member[] members;
    private volatile long generation;
    private volatile boolean closed;
    private Parallel.Range body;
    private long n;
    private int chunks;
    private final AtomicInteger remaining = new AtomicInteger();
    private final AtomicReference<Throwable> error = new AtomicReference<>();

    /** A team of {@code size} threads counting the caller (size 1 runs everything on the caller). */
    SpinTeam(int size) {
        if (size < 1) throw new IllegalArgumentException("team size must be >= 1, got " + size);
        this.size = size;
        members = new Member[size - 1];
        for (int i = 0; i < members.length; i++) {
            members[i] = new Member(i + 1);
            members[i].start();
        }
    }

    int size() {
        return size;
    }

    /** Runs body over [0, n) in at most size() contiguous chunks of at least {@code grain} indices. */
    void range(long n, long grain, Parallel.Range body) {
        int c = (int) Math.min(size, Math.max(1, n / Math.max(1, grain)));
        if (c <= 1) {
            if (n > 0) body.run(0, n);
            return;
        }
        this.body = body;
        this.n = n;
        this.chunks = c;
        remaining.set(members.length); // every member acknowledges, so no one can still be reading this loop's fields
        generation++; // volatile write: publishes body, n and chunks to the members
        for (Member m : members) if (m.parked) LockSupport.unpark(m);
        try {
            body.run(0, n / c);
        } catch (Throwable e) {
            error.compareAndSet(null, e);
        }
        awaitMembers();
        this.body = null;
        Throwable e = error.getAndSet(null);
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error er) throw er;
        if (e != null) throw new IllegalStateException(e);
    }

    /** Spins briefly, then yields, so a member that lost its CPU to another process can get it back. */
    private void awaitMembers() {
        for (int spins = 0; remaining.get() > 0; spins++) {
            if (spins < YIELD_AFTER_SPINS) Thread.onSpinWait();
            else Thread.yield();
        }
    }

    /**
     * Busy-wait iterations before a waiting thread starts yielding its CPU (~0.3 ms here): long enough to
     * cover the serial stretches of a decoding step (attention, norms) without a system call on the next
     * wake-up; 2000 decoded the 15M-class model 3 % slower (median of six alternating runs).
     */
    static final int YIELD_AFTER_SPINS = 20000;

    private final class Member extends Thread {
        private final int index;
        volatile boolean parked;

        Member(int index) {
            super("lowbit-decode-" + index);
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                long spinStart = System.nanoTime();
                for (int spins = 0; generation == seen && !closed; spins++) {
                    if (spins < YIELD_AFTER_SPINS) Thread.onSpinWait();
                    else if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.yield();
                    else {
                        parked = true;
                        if (generation == seen && !closed) LockSupport.parkNanos(1_000_000);
                        parked = false;
                    }
                }
                if (closed) return;
                seen = generation;
                int c = chunks;
                if (index < c) {
                    try {
                        body.run(n * index / c, n * (index + 1) / c);
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }
                remaining.decrementAndGet();
            }
        }
    }

    /** Stops the members. */
    @Override
    public void close() {
        closed = true;
        for (Member m : members) LockSupport.unpark(m);
    }
}
