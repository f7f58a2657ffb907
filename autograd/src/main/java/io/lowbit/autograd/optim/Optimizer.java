package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Base of the optimizers: parameter groups, per-parameter state (step count and named tensors in
 * {@link MemoryCategory#OPTIMIZER} memory), {@link #step()} over every parameter with a gradient, and a
 * state dict for resumable checkpoints.
 *
 * <p>State dict keys are {@code "<index>.<name>"} with index the parameter's position across groups
 * (PyTorch numbers parameters the same way) and {@code "<index>.step"} a 0-d F64 tensor.
 */
public abstract class Optimizer implements AutoCloseable {
    /** Per-parameter state: the number of updates applied and the named state tensors. */
    public static final class State {
        long step;
        final Map<String, Tensor> tensors = new LinkedHashMap<>();

        /** Number of updates applied to this parameter. */
        public long step() { return step; }

        /** Named state tensors (e.g. "exp_avg", "exp_avg_sq"); live, not copies. */
        public Map<String, Tensor> tensors() { return java.util.Collections.unmodifiableMap(tensors); }

        /** Allocates a zero tensor that lives until the optimizer is closed. */
        Tensor zeros(String name, DType dtype, int... shape) {
            Tensor t = MemoryScope.escape(Tensor.zeros(dtype, MemoryCategory.OPTIMIZER, shape));
            tensors.put(name, t);
            return t;
        }
    }

    private final List<ParamGroup> groups;
    private final Map<Var, State> state = new IdentityHashMap<>();
    private final Map<Var, ParamGroup> groupOf = new IdentityHashMap<>();

    /** An optimizer over the given groups (a parameter may be in one group only). */
    protected Optimizer(List<ParamGroup> groups) {
        if (groups.isEmpty()) throw new IllegalArgumentException("optimizer without parameter groups");
        this.groups = List.copyOf(groups);
        for (ParamGroup g : groups)
            for (Var p : g.params()) {
                if (groupOf.put(p, g) != null) throw new IllegalArgumentException("parameter in two groups: " + p);
                if (!p.requiresGrad()) throw new IllegalArgumentException("optimizing a parameter that does not require grad: " + p);
            }
    }

    /** The parameter groups (their learning rates are mutable). */
    public List<ParamGroup> paramGroups() {
        return groups;
    }

    /** All parameters in group order. */
    public List<Var> params() {
        List<Var> all = new ArrayList<>();
        for (ParamGroup g : groups) all.addAll(g.params());
        return all;
    }

    /** The state of {@code p} (created empty on first use). */
    public State state(Var p) {
        if (!groupOf.containsKey(p)) throw new IllegalArgumentException("parameter not managed by this optimizer: " + p);
        return state.computeIfAbsent(p, k -> new State());
    }

    /** Applies one update to every parameter that has a gradient. */
    public void step() {
        for (ParamGroup g : groups) for (Var p : g.params()) if (p.grad() != null) step(p);
    }

    /** Applies one update to {@code p} alone (per-parameter updates during backward). */
    public void step(Var p) {
        ParamGroup g = groupOf.get(p);
        if (g == null) throw new IllegalArgumentException("parameter not managed by this optimizer: " + p);
        if (p.grad() == null) throw new IllegalStateException("step on a parameter without gradient: " + p);
        if (!p.data().isContiguous()) throw new IllegalArgumentException("optimizers update contiguous parameters; got strides " + Arrays.toString(p.data().strides()));
        State s = state(p);
        s.step++;
        Tensor grad = p.grad(), gc = grad.contiguous();
        try {
            update(p, gc, g, s);
        } finally {
            if (gc != grad) gc.close();
        }
    }

    /** The update rule: change {@code p.data()} in place given its (contiguous) gradient. */
    protected abstract void update(Var p, Tensor grad, ParamGroup group, State state);

    /** Frees every managed parameter's gradient. */
    public void zeroGrad() {
        for (Var p : params()) p.zeroGrad();
    }

    /** Step counts and state tensors by {@code "<index>.<name>"} (live tensors, not copies). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<Var> all = params();
        for (int i = 0; i < all.size(); i++) {
            State s = state.get(all.get(i));
            if (s == null) continue;
            for (var e : s.tensors.entrySet()) out.put(i + "." + e.getKey(), e.getValue());
        }
        return out;
    }

    /** Step count per parameter index (only parameters that were updated at least once). */
    public Map<Integer, Long> stepCounts() {
        Map<Integer, Long> out = new LinkedHashMap<>();
        List<Var> all = params();
        for (int i = 0; i < all.size(); i++) {
            State s = state.get(all.get(i));
            if (s != null) out.put(i, s.step);
        }
        return out;
    }

    /**
     * Restores state saved by {@link #stateDict()} and {@link #stepCounts()} (tensors are copied; shapes
     * and names must match what this optimizer would create).
     */
    public void loadStateDict(Map<String, Tensor> tensors, Map<Integer, Long> steps) {
        List<Var> all = params();
        for (var e : steps.entrySet()) {
            if (e.getKey() < 0 || e.getKey() >= all.size())
                throw new IllegalArgumentException("optimizer state for parameter " + e.getKey() + " but only " + all.size() + " parameters");
            Var p = all.get(e.getKey());
            State s = state(p);
            s.step = e.getValue();
            initState(p, s);
        }
        for (var e : tensors.entrySet()) {
            String k = e.getKey();
            int dot = k.indexOf('.');
            int idx;
            try {
                idx = Integer.parseInt(k.substring(0, Math.max(dot, 0)));
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("optimizer state key '" + k + "' is not '<index>.<name>'");
            }
            State s = idx >= 0 && idx < all.size() ? state.get(all.get(idx)) : null;
            Tensor dst = s == null ? null : s.tensors.get(k.substring(dot + 1));
            if (dst == null) throw new IllegalArgumentException("unexpected optimizer state key '" + k + "' (no step count or unknown name)");
            if (!Arrays.equals(dst.shape(), e.getValue().shape()))
                throw new IllegalArgumentException("optimizer state '" + k + "': checkpoint " + Arrays.toString(e.getValue().shape())
                        + " vs optimizer " + Arrays.toString(dst.shape()));
            dst.copyFrom(e.getValue());
        }
    }

    /** Creates the state tensors of {@code p} if they do not exist yet. */
    protected abstract void initState(Var p, State s);

    /** Frees every state tensor. */
    @Override
    public void close() {
        for (State s : state.values()) for (Tensor t : s.tensors.values()) t.close();
        state.clear();
    }
}
