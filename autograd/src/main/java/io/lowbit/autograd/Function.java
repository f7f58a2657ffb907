package io.lowbit.autograd;

import io.lowbit.tensor.Storage;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * One differentiable operation and, once applied, its node in the graph. An op states its forward and
 * its backward side by side; built-in ops and user ops (straight-through rounding, LSQ, recomputed
 * fake-quant) are written the same way:
 * <pre>{@code
 * final class Square extends Function {
 *     protected Tensor forward(Tensor... in) {
 *         saveForBackward(in[0]);
 *         return in[0].square();
 *     }
 *     protected Tensor[] backward(Tensor g) {
 *         try (Tensor twoX = saved(0).mul(2.0)) {
 *             return new Tensor[] {g.mul(twoX)};          // d(x²)/dx = 2x
 *         }
 *     }
 * }
 * Var y = new Square().apply(x);
 * }</pre>
 *
 * <p>Each {@link #apply} needs a fresh instance: the instance is the node and holds what forward saved.
 *
 * <p><b>Ownership rules.</b>
 * <ul>
 *   <li>{@link #forward} returns a new tensor (the output {@link Var} owns it) or a view of an input.
 *       Temporaries it makes and does not return or save, it closes (or opens a
 *       {@link io.lowbit.tensor.MemoryScope}).</li>
 *   <li>{@link #saveForBackward} accepts the inputs, the output, and tensors forward allocated. The latter
 *       are owned by this node and freed right after its backward ran (or when the graph is released);
 *       inputs and outputs stay owned by their {@link Var}s. Tensors owned by someone else that are not
 *       inputs (rotary tables, packed quantized weights) are plain fields of the subclass instead.</li>
 *   <li>{@link #backward} returns, per input, a new tensor, a view of {@code gradOutput}, {@code gradOutput}
 *       itself, one of this node's own saved tensors (reused in place), or null (no gradient). The
 *       engine takes those over and frees them when consumed; {@code gradOutput} belongs to the
 *       engine and must not be closed by backward.</li>
 * </ul>
 * Backward runs with recording off; it must not modify its saved tensors unless it returns them.
 */
public abstract class Function {
    private Var[] inputs;
    private Var output;
    private boolean[] needsInputGrad = new boolean[0];
    private final List<Tensor> saved = new ArrayList<>();
    private boolean[] ownsSaved = new boolean[0];
    private boolean released;

    /** Computes the output from the input tensors (recording is off while it runs). */
    protected abstract Tensor forward(Tensor... inputs);

    /**
     * Gradient of the loss with respect to each input, given the gradient with respect to the output.
     * The array has one entry per input; entries for inputs with {@code !needsInputGrad(i)} may be null.
     */
    protected abstract Tensor[] backward(Tensor gradOutput);

    /** Keeps tensors for {@link #backward}; see the class comment for who owns them. */
    protected final void saveForBackward(Tensor... ts) {
        saved.addAll(Arrays.asList(ts));
    }

    /** The {@code i}-th saved tensor; throws a clear error when its memory was already freed. */
    protected final Tensor saved(int i) {
        if (released) throw new IllegalStateException(name() + ": saved tensors were freed (the graph was released)");
        Tensor t = saved.get(i);
        if (t.isClosed())
            throw new IllegalStateException(name() + ": saved tensor " + i + " was closed before backward; keep the "
                    + "inputs of a graph alive (e.g. inside one MemoryScope) until backward has run");
        return t;
    }

    /** Number of saved tensors. */
    protected final int savedCount() {
        return saved.size();
    }

    /**
     * True when input {@code i} needs a gradient (valid in forward and backward). Forward can use it to
     * save less; backward to skip work.
     */
    protected final boolean needsInputGrad(int i) {
        return i < needsInputGrad.length && needsInputGrad[i];
    }

    /** True when any input needs a gradient, i.e. this application is recorded in the graph. */
    protected final boolean isRecording() {
        for (boolean b : needsInputGrad) if (b) return true;
        return false;
    }

    /** Display name in error messages (the class's simple name unless overridden). */
    public String name() {
        String n = getClass().getSimpleName();
        return n.isEmpty() ? getClass().getName() : n;
    }

    /**
     * Runs forward on the inputs' data and, when grad mode is on and some input requires grad, links
     * the output into the graph.
     */
    public final Var apply(Var... in) {
        if (inputs != null || output != null)
            throw new IllegalStateException(name() + " instance applied twice; create a new Function per call");
        Tensor[] data = new Tensor[in.length];
        boolean record = GradMode.isEnabled();
        boolean any = false;
        needsInputGrad = new boolean[in.length];
        for (int i = 0; i < in.length; i++) {
            if (in[i] == null) throw new IllegalArgumentException(name() + ": input " + i + " is null");
            data[i] = in[i].data();
            if (data[i].isClosed()) throw new IllegalStateException(name() + ": input " + i + " was closed");
            needsInputGrad[i] = record && in[i].requiresGrad();
            any |= needsInputGrad[i];
        }
        Tensor out;
        try (GradMode.Scope _ = GradMode.noGrad()) {
            out = forward(data);
        } catch (RuntimeException | Error e) {
            freeOwnedSaved(Collections.emptySet(), in, null);
            throw e;
        }
        if (out == null) throw new IllegalStateException(name() + ".forward returned null");
        boolean fresh = true; // new memory, owned by the result; otherwise a view of an input
        for (Tensor d : data) {
            if (out == d) out = out.expand(out.shape());
            if (out.storage() == d.storage()) fresh = false;
        }
        if (!any && !(record && recordsWithoutGradInputs())) {
            freeOwnedSaved(Collections.emptySet(), in, out);
            saved.clear();
            needsInputGrad = new boolean[in.length];
            return new Var(out, null, fresh);
        }
        inputs = in.clone();
        Var result = new Var(out, this, fresh);
        output = result;
        ownsSaved = new boolean[saved.size()];
        for (int i = 0; i < saved.size(); i++) ownsSaved[i] = !sharesStorage(saved.get(i), in, out);
        return result;
    }

    private static boolean sharesStorage(Tensor t, Var[] in, Tensor out) {
        Storage s = t.storage();
        if (out != null && out.storage() == s) return true;
        for (Var v : in) if (v.data().storage() == s) return true;
        return false;
    }

    private void freeOwnedSaved(Set<Storage> keep, Var[] in, Tensor out) {
        for (int i = 0; i < saved.size(); i++) {
            Tensor t = saved.get(i);
            boolean owned = i < ownsSaved.length && inputs != null ? ownsSaved[i] : !sharesStorage(t, in, out);
            if (owned && !keep.contains(t.storage())) t.storage().close();
        }
    }

    // ------------------------------------------------------------------ engine side

    /**
     * True for nodes that must be recorded whenever grad mode is on, even when no input requires grad:
     * a checkpointed segment uses parameters that are not its inputs.
     */
    boolean recordsWithoutGradInputs() {
        return false;
    }

    Var[] inputs() {
        return inputs;
    }

    Var output() {
        return output;
    }

    boolean released() {
        return released;
    }

    boolean needs(int i) {
        return needsInputGrad(i);
    }

    Tensor[] runBackward(Tensor gradOutput) {
        if (released)
            throw new IllegalStateException("backward through " + name() + " a second time: its saved tensors were "
                    + "freed; pass retainGraph=true to the first backward");
        return backward(gradOutput);
    }

    /** Frees the tensors this node owns, except those whose storage is in {@code keep}. */
    void releaseSaved(Set<Storage> keep) {
        if (released) return;
        freeOwnedSaved(keep, inputs, output == null ? null : output.data());
        saved.clear();
        released = true;
    }

    /** True when {@code t} shares storage with an input, the output, or a tensor saved by reference. */
    boolean isForeign(Tensor t) {
        Storage s = t.storage();
        if (sharesStorage(t, inputs, output.data())) return true;
        for (int i = 0; i < saved.size(); i++) if (!ownsSaved[i] && saved.get(i).storage() == s) return true;
        return false;
    }
}
