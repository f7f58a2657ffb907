package io.lowbit.autograd;

/**
 * Whether ops record a graph on this thread (PyTorch's {@code torch.no_grad()} /
 * {@code torch.enable_grad()}). Recording is on by default; open a scope to change it:
 * <pre>{@code
 * try (var g = GradMode.noGrad()) {
 *     Var y = model.forward(x);      // no graph, nothing saved for backward
 * }
 * }</pre>
 * Scopes nest and restore the previous mode when closed. The engine runs every backward with recording
 * off; activation checkpointing turns it back on to recompute a segment.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {}

    /** A scope that restores the previous mode when closed. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** True when ops record the graph on this thread. */
    public static boolean isEnabled() {
        return ENABLED.get()[0];
    }

    /** Turns recording off until the returned scope is closed. */
    public static Scope noGrad() {
        return set(false);
    }

    /** Turns recording on until the returned scope is closed. */
    public static Scope enableGrad() {
        return set(true);
    }

    /** Sets recording to {@code enabled} until the returned scope is closed. */
    public static Scope set(boolean enabled) {
        boolean[] cell = ENABLED.get();
        boolean previous = cell[0];
        cell[0] = enabled;
        return () -> cell[0] = previous;
    }
}
