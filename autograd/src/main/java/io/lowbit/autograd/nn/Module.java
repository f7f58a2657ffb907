package io.lowbit.autograd.nn;

import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A node of a model tree (PyTorch's {@code nn.Module}): named parameters, buffers and child modules,
 * a train/eval flag, state dicts and replacement of submodules by dotted path.
 *
 * <p>Subclasses register what they own in their constructor and keep it in fields:
 * <pre>{@code
 * final class Mlp extends Layer {
 *     private Layer up, down;                      // non-final: replace() may swap them
 *     Mlp(int d, int h, Rng rng) {
 *         up = registerModule("up", new Linear(d, h, true, rng));
 *         down = registerModule("down", new Linear(h, d, true, rng));
 *     }
 *     public Var forward(Var x) { return down.forward(F.relu(up.forward(x))); }
 * }
 * }</pre>
 * {@link #replace(String, Module)} swaps a child in the tree and in the parent's field that held it
 * (QAT methods swap linears this way: {@code model.replace("layers.0.attn.q_proj", quantLinear)}).
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Parameter> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    private static String checkName(String name, Map<String, ?> map, String what) {
        if (name == null || name.isEmpty() || name.contains("."))
            throw new IllegalArgumentException(what + " name must be non-empty and contain no '.', got '" + name + "'");
        if (map.containsKey(name)) throw new IllegalArgumentException(what + " '" + name + "' registered twice");
        return name;
    }

    /** Registers a parameter under {@code name}; returns it. */
    protected <P extends Parameter> P registerParameter(String name, P p) {
        params.put(checkName(name, params, "parameter"), p);
        return p;
    }

    /** Registers a non-trainable state tensor (saved in the state dict) under {@code name}; returns it. */
    protected Tensor registerBuffer(String name, Tensor t) {
        buffers.put(checkName(name, buffers, "buffer"), MemoryScope.escape(t));
        return t;
    }

    /** Registers a child module under {@code name}; returns it. */
    protected <M extends Module> M registerModule(String name, M m) {
        children.put(checkName(name, children, "module"), m);
        return m;
    }

    // ------------------------------------------------------------------ traversal

    /** Direct children by name, in registration order. */
    public Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** This module's own parameters (not its children's). */
    public Map<String, Parameter> ownParameters() {
        return Collections.unmodifiableMap(params);
    }

    /** Every parameter in the tree by dotted path; a parameter shared by two modules appears once. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collectParams("", out, seen);
        return out;
    }

    private void collectParams(String prefix, Map<String, Parameter> out, Set<Parameter> seen) {
        for (var e : params.entrySet()) if (seen.add(e.getValue())) out.put(prefix + e.getKey(), e.getValue());
        for (var e : children.entrySet()) e.getValue().collectParams(prefix + e.getKey() + ".", out, seen);
    }

    /** Every parameter in the tree, in {@link #namedParameters()} order. */
    public List<Parameter> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Every buffer in the tree by dotted path. */
    public Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collectBuffers("", out);
        return out;
    }

    private void collectBuffers(String prefix, Map<String, Tensor> out) {
        for (var e : buffers.entrySet()) out.put(prefix + e.getKey(), e.getValue());
        for (var e : children.entrySet()) e.getValue().collectBuffers(prefix + e.getKey() + ".", out);
    }

    /** Every module in the tree by dotted path (this one as ""). */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String path, Map<String, Module> out) {
        out.put(path, this);
        for (var e : children.entrySet()) e.getValue().collectModules(path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
    }

    /** Total number of parameter elements. */
    public long numParameters() {
        long n = 0;
        for (Parameter p : parameters()) n += p.numel();
        return n;
    }

    /** The submodule at a dotted path ("" is this module). */
    public Module get(String path) {
        Module m = this;
        if (path.isEmpty()) return m;
        String walked = "";
        for (String part : path.split("\\.")) {
            Module next = m.children.get(part);
            if (next == null)
                throw new IllegalArgumentException("no submodule '" + part + "' in '" + walked + "' (children: " + m.children.keySet() + ")");
            walked = walked.isEmpty() ? part : walked + "." + part;
            m = next;
        }
        return m;
    }

    /**
     * Replaces the submodule at {@code path} with {@code replacement}, in the tree and in the parent's
     * field that referenced the old module (if any). Returns the old module (not closed: the caller may
     * reuse its weights, then close it).
     */
    public Module replace(String path, Module replacement) {
        int dot = path.lastIndexOf('.');
        Module parent = get(dot < 0 ? "" : path.substring(0, dot));
        String name = path.substring(dot + 1);
        Module old = parent.children.get(name);
        if (old == null)
            throw new IllegalArgumentException("no submodule '" + name + "' at '" + path + "' (children: " + parent.children.keySet() + ")");
        for (Class<?> c = parent.getClass(); c != null && c != Module.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) continue;
                try {
                    f.setAccessible(true);
                    if (f.get(parent) != old) continue;
                    if (!f.getType().isInstance(replacement))
                        throw new IllegalArgumentException("cannot replace '" + path + "': field " + c.getSimpleName() + "." + f.getName()
                                + " has type " + f.getType().getSimpleName() + ", replacement is " + replacement.getClass().getSimpleName());
                    if (Modifier.isFinal(f.getModifiers()))
                        throw new IllegalArgumentException("cannot replace '" + path + "': field " + c.getSimpleName() + "." + f.getName()
                                + " is final; declare replaceable submodule fields non-final");
                    f.set(parent, replacement);
                } catch (IllegalAccessException | RuntimeException e) {
                    if (e instanceof IllegalArgumentException iae) throw iae;
                    throw new IllegalStateException("cannot update field " + f.getName() + " of " + c.getSimpleName(), e);
                }
            }
        }
        parent.children.put(name, replacement);
        return old;
    }

    // ------------------------------------------------------------------ modes and grads

    /** Sets training mode on this module and all descendants; returns this. */
    public Module train(boolean on) {
        for (Module m : namedModules().values()) m.training = on;
        return this;
    }

    /** Evaluation mode (dropout off); returns this. */
    public Module eval() {
        return train(false);
    }

    /** True in training mode (the default). */
    public boolean isTraining() {
        return training;
    }

    /** Frees every parameter's gradient. */
    public void zeroGrad() {
        for (Parameter p : parameters()) p.zeroGrad();
    }

    // ------------------------------------------------------------------ state dicts

    /** Parameters' data and buffers by dotted path (the live tensors, not copies). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : namedParameters().entrySet()) out.put(e.getKey(), e.getValue().data());
        out.putAll(namedBuffers());
        return out;
    }

    /** What {@link #loadStateDict(Map, boolean)} did not match. */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {}

    /** Copies every tensor of {@code state} into the matching parameter or buffer; all keys must match. */
    public void loadStateDict(Map<String, Tensor> state) {
        loadStateDict(state, true);
    }

    /**
     * Copies matching entries (converting dtype) after checking every shape. With {@code strict}, missing
     * or unexpected keys are an error; otherwise they are returned. Shape mismatches are always errors.
     * Nothing is copied when any check fails.
     */
    public LoadResult loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Tensor> mine = stateDict();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), misshaped = new ArrayList<>();
        for (String k : mine.keySet()) if (!state.containsKey(k)) missing.add(k);
        for (String k : state.keySet()) if (!mine.containsKey(k)) unexpected.add(k);
        for (var e : mine.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src != null && !Arrays.equals(src.shape(), e.getValue().shape()))
                misshaped.add(e.getKey() + ": checkpoint " + Arrays.toString(src.shape()) + " vs model " + Arrays.toString(e.getValue().shape()));
        }
        if (!misshaped.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty()))) {
            StringBuilder sb = new StringBuilder("loadStateDict failed:");
            if (!missing.isEmpty()) sb.append(" missing keys ").append(missing).append(';');
            if (!unexpected.isEmpty()) sb.append(" unexpected keys ").append(unexpected).append(';');
            if (!misshaped.isEmpty()) sb.append(" size mismatch ").append(misshaped).append(';');
            throw new IllegalArgumentException(sb.toString());
        }
        for (var e : mine.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src != null) e.getValue().copyFrom(src);
        }
        return new LoadResult(missing, unexpected);
    }

    /**
     * Frees everything the tree owns: closes every child module first (so a subclass's own {@code close()} runs
     * too, freeing what it holds beyond parameters and buffers: packed weights, update temporaries), then this
     * module's parameters, their gradients and its buffers. Closing twice, or a tree that shares a parameter
     * (tied embeddings), frees each tensor once. Subclasses that override it call {@code super.close()}.
     */
    @Override
    public void close() {
        for (Module c : children.values()) c.close();
        for (Parameter p : params.values()) p.close();
        for (Tensor t : buffers.values()) t.close();
    }
}
