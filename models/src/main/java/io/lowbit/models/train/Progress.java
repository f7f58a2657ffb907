package io.lowbit.models.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of a long run: step, loss, learning rate, tokens/s and ETA. On a terminal it redraws one line;
 * otherwise (logs, CI) it prints a line every {@code every} steps and at the last step.
 */
public final class Progress {
    private final PrintStream out;
    private final String label;
    private final long totalSteps;
    private final long every;
    private final boolean tty;
    private final long startNanos = System.nanoTime();
    private long tokens;
    private long firstStep = -1;

    public Progress(PrintStream out, String label, long totalSteps, long every) {
        this.out = out;
        this.label = label;
        this.totalSteps = totalSteps;
        this.every = Math.max(1, every);
        this.tty = System.console() != null && System.console().isTerminal();
    }

    /** Records a finished step (0-based) that processed {@code stepTokens} tokens. */
    public void step(long step, double loss, double lr, long stepTokens) {
        if (firstStep < 0) firstStep = step;
        tokens += stepTokens;
        boolean last = step + 1 >= totalSteps;
        if (!tty && step % every != 0 && !last) return;
        out.print((tty ? "\r" : "") + line(step, loss, lr) + (tty && !last ? "" : "\n"));
        out.flush();
    }

    /** The formatted progress line for a step. */
    public String line(long step, double loss, double lr) {
        double secs = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        long done = step + 1 - firstStep;
        double perStep = secs / Math.max(1, done);
        long eta = Math.round(perStep * Math.max(0, totalSteps - step - 1));
        int width = 20;
        int filled = (int) Math.min(width, Math.round(width * (step + 1.0) / Math.max(1, totalSteps)));
        return String.format(Locale.ROOT, "%s [%s%s] step %d/%d loss %.4f lr %.2e tok/s %.0f eta %s",
                label, "#".repeat(filled), ".".repeat(width - filled), step + 1, totalSteps, loss, lr, tokens / secs, clock(eta));
    }

    /** Seconds as h:mm:ss or m:ss. */
    public static String clock(long s) {
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** Tokens per second since this progress started. */
    public double tokensPerSecond() {
        return tokens / Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
    }
}
