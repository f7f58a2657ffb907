package io.lowbit.autograd;

import io.lowbit.tensor.Storage;
import io.lowbit.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation over the graph of {@link Function}s below a {@link Var}.
 *
 * <ol>
 *   <li>Order the nodes so every node comes after all nodes that consume its output (reverse
 *       post-order of a depth-first walk from the root).</li>
 *   <li>Walk that order from the root: hand each node the sum of the gradients its consumers sent it,
 *       call its backward, and pass each input's gradient on: into the producing node's pending sum, or
 *       into a leaf's {@link Var#grad()}.</li>
 *   <li>A node's saved tensors are freed right after its backward; a gradient is freed as soon as it has
 *       been consumed; a leaf's post-accumulate hooks run when its last contribution has arrived.</li>
 * </ol>
 * Gradients in flight are reference-counted by storage, because a backward may pass its incoming
 * gradient straight through (add) or as a view (reshape, transpose) to several inputs.
 */
final class Engine {
    private Engine() {}

    /** Counts the gradient tensors in flight per storage and frees a storage when its count drops to 0. */
    private static final class InFlight {
        private final Map<Storage, int[]> refs = new IdentityHashMap<>();
        private final Set<Storage> external = java.util.Collections.newSetFromMap(new IdentityHashMap<>());

        void external(Tensor t) { external.add(t.storage()); }

        void acquire(Tensor t) {
            if (!external.contains(t.storage())) refs.computeIfAbsent(t.storage(), k -> new int[1])[0]++;
        }

        void release(Tensor t) {
            Storage s = t.storage();
            if (external.contains(s)) return;
            int[] c = refs.get(s);
            if (c == null) throw new IllegalStateException("engine: releasing an untracked gradient");
            if (--c[0] == 0) {
                refs.remove(s);
                s.close();
            }
        }

        Set<Storage> live() {
            return refs.keySet();
        }
    }

    /** Functions reachable from {@code root}, each after every function that consumes its output. */
    static List<Function> topologicalOrder(Function root) {
        List<Function> post = new ArrayList<>();
        Map<Function, Boolean> seen = new IdentityHashMap<>();
        ArrayDeque<Object[]> stack = new ArrayDeque<>(); // {function, next input index}
        stack.push(new Object[] {root, 0});
        seen.put(root, true);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Function f = (Function) top[0];
            int i = (Integer) top[1];
            Var[] in = f.inputs();
            if (i < in.length) {
                top[1] = i + 1;
                Function p = in[i].gradFn();
                if (p != null && f.needs(i) && seen.put(p, true) == null) stack.push(new Object[] {p, 0});
            } else {
                stack.pop();
                post.add(f);
            }
        }
        java.util.Collections.reverse(post);
        return post;
    }

    static void backward(Var root, Tensor gradOutput, boolean retainGraph) {
        backward(root, gradOutput, retainGraph, false);
    }

    /**
     * With {@code freeIntermediates}, each node's output is freed right after that node's backward: by then
     * every consumer of the output has run its backward (they come earlier in the order), so nothing in
     * the graph needs it any more.
     */
    static void backward(Var root, Tensor gradOutput, boolean retainGraph, boolean freeIntermediates) {
        if (!root.requiresGrad())
            throw new IllegalStateException("backward of a Var that does not require grad: no input requires grad, "
                    + "or it was computed under GradMode.noGrad()");
        if (root.isLeaf()) {
            root.accumulateGrad(gradOutput);
            root.runHooks();
            return;
        }
        List<Function> order = topologicalOrder(root.gradFn());
        Map<Var, int[]> leafUses = new IdentityHashMap<>();
        for (Function f : order) {
            Var[] in = f.inputs();
            for (int i = 0; i < in.length; i++)
                if (f.needs(i) && in[i].isLeaf()) leafUses.computeIfAbsent(in[i], k -> new int[1])[0]++;
        }
        InFlight flight = new InFlight();
        flight.external(gradOutput);
        Map<Function, Tensor> pending = new IdentityHashMap<>();
        pending.put(root.gradFn(), gradOutput);
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (Function f : order) {
                Tensor g = pending.remove(f);
                Var[] in = f.inputs();
                Tensor[] gi = null;
                if (g != null) {
                    if (f.output().retainsGrad()) f.output().accumulateGrad(g);
                    gi = f.runBackward(g);
                    check(f, gi);
                    for (Tensor t : gi) if (t != null) flight.acquire(t);
                    flight.release(g);
                }
                if (!retainGraph) f.releaseSaved(flight.live());
                if (freeIntermediates && f.output() != root) f.output().close();
                for (int i = 0; i < in.length; i++) {
                    Tensor t = gi == null ? null : gi[i];
                    if (t != null && !f.needs(i)) {
                        flight.release(t);
                        continue;
                    }
                    if (!f.needs(i)) continue;
                    Var x = in[i];
                    if (x.isLeaf()) {
                        if (t != null) {
                            x.accumulateGrad(t);
                            flight.release(t);
                        }
                        if (--leafUses.get(x)[0] == 0 && x.grad() != null) x.runHooks();
                    } else if (t != null) {
                        Function p = x.gradFn();
                        Tensor prev = pending.get(p);
                        if (prev == null) {
                            pending.put(p, t);
                        } else {
                            Tensor sum = prev.add(t);
                            flight.acquire(sum);
                            flight.release(prev);
                            flight.release(t);
                            pending.put(p, sum);
                        }
                    }
                }
            }
        } finally {
            for (Tensor t : pending.values()) flight.release(t);
        }
    }

    private static void check(Function f, Tensor[] gi) {
        Var[] in = f.inputs();
        if (gi == null || gi.length != in.length)
            throw new IllegalStateException(f.name() + ".backward returned " + (gi == null ? "null" : gi.length + " gradients")
                    + " for " + in.length + " inputs");
        for (int i = 0; i < gi.length; i++) {
            if (gi[i] == null) continue;
            if (!Arrays.equals(gi[i].shape(), in[i].shape()))
                throw new IllegalStateException(f.name() + ".backward returned a gradient of shape " + Arrays.toString(gi[i].shape())
                        + " for input " + i + " of shape " + Arrays.toString(in[i].shape()));
            if (gi[i].dtype() != in[i].dtype())
                throw new IllegalStateException(f.name() + ".backward returned a " + gi[i].dtype() + " gradient for "
                        + in[i].dtype() + " input " + i);
            if (f.isForeign(gi[i]))
                throw new IllegalStateException(f.name() + ".backward returned a gradient sharing memory with an input or output; "
                        + "return a new tensor");
        }
    }

    static void release(Var root) {
        if (root.isLeaf()) return;
        for (Function f : topologicalOrder(root.gradFn())) {
            f.releaseSaved(java.util.Collections.emptySet());
            Var out = f.output();
            if (out != null && out != root) out.close();
        }
    }
}
