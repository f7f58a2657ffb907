package io.lowbit.tensor.io;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named places where a crash is most dangerous (inside a checkpoint write, between two steps), so a test can
 * kill a real process exactly there instead of sleeping and hoping. Test-only and inert unless the system
 * property {@code lowbit.crashPoint} is set, to {@code NAME} or {@code NAME@n} (the n-th time {@code NAME} is
 * reached in this process, 1-based; plain {@code NAME} means the first). The property is read once, at class
 * initialization.
 *
 * <p>When the chosen point is reached, the process prints {@code lowbit crash point NAME@n reached} on its
 * standard error and then waits forever, to be killed ({@code kill -9}) by whoever is watching for that line.
 * The points in use: {@code trainer.step} (after each optimizer step), {@code checkpoint.model-written},
 * {@code checkpoint.complete}, {@code checkpoint.old-moved}, {@code checkpoint.before-rename},
 * {@code checkpoint.new-moved} (see {@code TrainCheckpoint.write}) and {@code atomic-write:FILE_NAME}
 * ({@link AtomicFiles}: the temporary file is written and forced, not yet moved into place).
 */
public final class CrashPoint {
    private static final String TARGET;
    private static final int NTH;
    private static final ConcurrentHashMap<String, AtomicInteger> COUNTS = new ConcurrentHashMap<>();

    static {
        String p = System.getProperty("lowbit.crashPoint");
        int at = p == null ? -1 : p.lastIndexOf('@');
        TARGET = p == null || p.isEmpty() ? null : at < 0 ? p : p.substring(0, at);
        NTH = p == null || at < 0 ? 1 : Integer.parseInt(p.substring(at + 1));
    }

    private CrashPoint() {}

    /** Marks that {@code name} was reached; stops here forever if it is the configured crash point. */
    public static void reach(String name) {
        if (TARGET == null || !TARGET.equals(name)) return;
        int n = COUNTS.computeIfAbsent(name, _ -> new AtomicInteger()).incrementAndGet();
        if (n != NTH) return;
        System.out.flush();
        System.err.println("lowbit crash point " + name + "@" + n + " reached");
        System.err.flush();
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // keep waiting: only a kill ends this process
            }
        }
    }
}
