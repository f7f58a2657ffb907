package io.lowbit.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A try-with-resources region that owns every tensor allocated inside it on this thread:
 * <pre>{@code
 * try (var scope = MemoryScope.open()) {
 *     Tensor h = x.matmul(w).add(b);     // temporaries belong to the scope
 *     return scope.keep(h.silu());       // survives; the caller now owns it
 * }                                       // everything else is returned to the Allocator
 * }</pre>
 * Scopes nest; {@link #keep(Tensor)} hands a tensor to the enclosing scope (or to the caller when there
 * is none). Tensors made outside any scope are owned by whoever made them and closed with
 * {@link Tensor#close()}.
 */
public final class MemoryScope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<MemoryScope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final Map<Storage, Boolean> owned = new IdentityHashMap<>();
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private MemoryScope() {}

    /** Opens a scope that becomes the current one on this thread. */
    public static MemoryScope open() {
        MemoryScope s = new MemoryScope();
        STACK.get().push(s);
        return s;
    }

    static void register(Storage s) {
        MemoryScope top = STACK.get().peek();
        if (top != null) top.owned.put(s, Boolean.TRUE);
    }

    /** Takes {@code t}'s storage out of this scope and gives it to the enclosing scope, if any. */
    public Tensor keep(Tensor t) {
        Storage s = t.storage();
        if (owned.remove(s) != null) {
            ArrayDeque<MemoryScope> st = STACK.get();
            boolean seenThis = false;
            for (MemoryScope m : st) {
                if (seenThis) {
                    m.owned.put(s, Boolean.TRUE);
                    break;
                }
                if (m == this) seenThis = true;
            }
        }
        return t;
    }

    /**
     * Takes {@code t}'s storage out of every scope open on this thread: the caller owns it from now on.
     * For long-lived state created while a step scope is open (parameter gradients, optimizer moments).
     */
    public static Tensor escape(Tensor t) {
        for (MemoryScope m : STACK.get()) m.owned.remove(t.storage());
        return t;
    }

    /** Keeps several tensors; see {@link #keep(Tensor)}. */
    public void keepAll(Iterable<Tensor> ts) {
        for (Tensor t : ts) keep(t);
    }

    /** Number of storages this scope currently owns. */
    public int size() {
        return owned.size();
    }

    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread) throw new IllegalStateException("MemoryScope closed from another thread");
        ArrayDeque<MemoryScope> st = STACK.get();
        // checked before marking closed, so the inner scope's close() and then this one still work
        if (st.peek() != this) throw new IllegalStateException("MemoryScopes closed out of order: close the inner scope first");
        closed = true;
        st.pop();
        List<Storage> list = new ArrayList<>(owned.keySet());
        owned.clear();
        for (Storage s : list) s.close();
    }
}
