package io.lowbit.autograd;

import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * A tensor in the autograd graph (PyTorch's {@code torch.Tensor} with {@code requires_grad}): its
 * {@link #data()}, its accumulated {@link #grad()}, and, for results of recorded ops, the
 * {@link Function} that made it ({@link #gradFn()}).
 *
 * <p>Leaves are made by the user (inputs, {@link io.lowbit.autograd.nn.Parameter}s); their gradients
 * accumulate across {@link #backward()} calls in {@link MemoryCategory#GRADIENTS} memory until
 * {@link #zeroGrad()}. Non-leaves are made by ops and own their output tensor.
 *
 * <p>Memory: a Var owns its data (closing it frees the bytes; closing a view frees nothing). Run a
 * training step inside one {@link MemoryScope} and every activation of the step is returned when it
 * closes, or call {@link #release()} on the loss to free a graph without a scope.
 */
public class Var implements AutoCloseable {
    private final Tensor data;
    private final Function gradFn;
    private final boolean ownsStorage; // op results: close the whole storage (the data may be a view of it)
    private boolean requiresGrad;
    private Tensor grad;
    private List<Consumer<Var>> hooks;
    private MemoryCategory gradCategory = MemoryCategory.GRADIENTS;
    private boolean retainsGrad;

    /** A leaf that does not require grad (an input, a constant). */
    public Var(Tensor data) {
        this(data, false);
    }

    /** A leaf; with {@code requiresGrad} its gradient is accumulated by backward. */
    public Var(Tensor data, boolean requiresGrad) {
        if (data == null) throw new IllegalArgumentException("Var of a null tensor");
        if (requiresGrad && !data.dtype().floating)
            throw new IllegalArgumentException("only floating-point tensors can require grad, got " + data.dtype());
        this.data = data;
        this.gradFn = null;
        this.ownsStorage = false;
        this.requiresGrad = requiresGrad;
    }

    /** The output of an op: recorded when {@code gradFn} is not null; {@code ownsStorage} when it is new memory. */
    Var(Tensor data, Function gradFn, boolean ownsStorage) {
        this.data = data;
        this.gradFn = gradFn;
        this.ownsStorage = ownsStorage;
        this.requiresGrad = gradFn != null;
    }

    /** A leaf that requires grad. */
    public static Var param(Tensor data) {
        return new Var(data, true);
    }

    /** A leaf constant. */
    public static Var of(Tensor data) {
        return new Var(data, false);
    }

    // ------------------------------------------------------------------ state

    /** The values. */
    public Tensor data() {
        return data;
    }

    /** The accumulated gradient, or null before the first backward (or after {@link #zeroGrad()}). */
    public Tensor grad() {
        return grad;
    }

    /** True when backward computes a gradient for this Var. */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Turns gradient tracking on or off for a leaf; returns this. */
    public Var requiresGrad(boolean on) {
        if (gradFn != null) throw new IllegalStateException("requiresGrad can only be changed on a leaf; use detach()");
        if (on && !data.dtype().floating)
            throw new IllegalArgumentException("only floating-point tensors can require grad, got " + data.dtype());
        requiresGrad = on;
        return this;
    }

    /** True for Vars made by the user rather than by a recorded op. */
    public boolean isLeaf() {
        return gradFn == null;
    }

    /** The op that produced this Var, or null for a leaf. */
    public Function gradFn() {
        return gradFn;
    }

    /** The data's shape. */
    public int[] shape() { return data.shape(); }
    /** Size of dimension {@code d} (negative counts from the end). */
    public int size(int d) { return data.size(d); }
    /** Number of dimensions. */
    public int dim() { return data.dim(); }
    /** Number of elements. */
    public long numel() { return data.numel(); }
    /** The data's element type. */
    public DType dtype() { return data.dtype(); }
    /** The single value of a one-element Var. */
    public double item() { return data.item(); }

    /** Frees the gradient (PyTorch's {@code zero_grad(set_to_none=True)}). */
    public void zeroGrad() {
        if (grad != null) grad.close();
        grad = null;
    }

    /**
     * Replaces the gradient (this Var takes ownership; the old one is freed). The tensor is relabelled to
     * {@link MemoryCategory#GRADIENTS} and taken out of any open scope.
     */
    public void setGrad(Tensor g) {
        if (g != null && !Arrays.equals(g.shape(), data.shape()))
            throw new IllegalArgumentException("grad shape " + Arrays.toString(g.shape()) + " != data shape " + Arrays.toString(data.shape()));
        if (grad != null && grad != g) grad.close();
        grad = g == null ? null : MemoryScope.escape(g).label(MemoryCategory.GRADIENTS);
    }

    /**
     * Keeps the gradient of this intermediate result during backward (PyTorch's {@code retain_grad}); read
     * it with {@link #grad()}. It is an activation: it belongs to the open {@link MemoryScope} (or is freed
     * with this Var). Leaves always keep their gradient.
     */
    public Var retainGrad() {
        if (!isLeaf()) {
            retainsGrad = true;
            gradCategory = MemoryCategory.ACTIVATIONS;
        }
        return this;
    }

    boolean retainsGrad() {
        return retainsGrad;
    }

    /** Counts this leaf's gradient under {@code c} (checkpointing's stand-in leaves hold activation gradients). */
    Var gradCategory(MemoryCategory c) {
        gradCategory = c;
        return this;
    }

    /** Adds {@code g} into the gradient, allocating it (escaping any scope) on first use. */
    void accumulateGrad(Tensor g) {
        if (!Arrays.equals(g.shape(), data.shape()))
            throw new IllegalStateException("gradient of shape " + Arrays.toString(g.shape()) + " for a leaf of shape " + Arrays.toString(data.shape()));
        if (grad == null) {
            grad = Tensor.empty(data.dtype(), gradCategory, data.shape());
            if (!retainsGrad) MemoryScope.escape(grad); // a leaf's gradient outlives the step scope
            grad.copyFrom(g);
        } else {
            grad.addInPlace(g);
        }
    }

    // ------------------------------------------------------------------ hooks

    /** A registered hook; {@link #close()} removes it. */
    public interface HookHandle extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Registers {@code hook} to run during backward right after this leaf's gradient for that backward is
     * complete (PyTorch's {@code register_post_accumulate_grad_hook}). The seam for per-layer optimizer
     * steps: the hook may update {@link #data()} and free the gradient with {@link #zeroGrad()}.
     */
    public HookHandle registerPostAccumulateGradHook(Consumer<Var> hook) {
        if (!isLeaf()) throw new IllegalStateException("post-accumulate-grad hooks apply to leaves only");
        if (hooks == null) hooks = new ArrayList<>();
        hooks.add(hook);
        return () -> hooks.remove(hook);
    }

    void runHooks() {
        if (hooks == null) return;
        for (Consumer<Var> h : List.copyOf(hooks)) h.accept(this);
    }

    // ------------------------------------------------------------------ graph

    /** Backward from a one-element Var (the loss): d(this)/d(leaf) accumulates into every leaf's grad. */
    public void backward() {
        if (data.numel() != 1)
            throw new IllegalStateException("backward() without a gradient needs a one-element output, got shape "
                    + Arrays.toString(data.shape()) + "; pass the output gradient");
        try (Tensor one = Tensor.full(data.dtype(), 1.0, data.shape())) {
            Engine.backward(this, one, false);
        }
    }

    /**
     * Backward from a one-element Var that frees the graph as it goes: every intermediate result is freed
     * as soon as the op that produced it has run its backward, and every saved tensor after its node. The
     * lowest-memory way to finish a training step; intermediate Vars must not be read afterwards (this Var's
     * value stays readable).
     */
    public void backwardAndRelease() {
        if (data.numel() != 1)
            throw new IllegalStateException("backwardAndRelease() needs a one-element output, got shape " + Arrays.toString(data.shape()));
        try (Tensor one = Tensor.full(data.dtype(), 1.0, data.shape())) {
            Engine.backward(this, one, false, true);
        }
    }

    /** Backward with the given gradient of the output (same shape; not taken over). */
    public void backward(Tensor gradOutput) {
        backward(gradOutput, false);
    }

    /**
     * Backward with the given output gradient; with {@code retainGraph} the saved tensors survive so a
     * second backward through the same graph is possible.
     */
    public void backward(Tensor gradOutput, boolean retainGraph) {
        if (!Arrays.equals(gradOutput.shape(), data.shape()))
            throw new IllegalArgumentException("gradient of shape " + Arrays.toString(gradOutput.shape())
                    + " for output of shape " + Arrays.toString(data.shape()));
        Engine.backward(this, gradOutput, retainGraph);
    }

    /** A leaf sharing this Var's data, cut from the graph (never requires grad). Closing it frees nothing. */
    public Var detach() {
        return new Var(data.expand(data.shape()), null, false);
    }

    /**
     * Frees everything the graph below this Var holds: the tensors its ops saved and the data of every
     * intermediate result (not leaves, not this Var). Use it to drop a graph without backward, or after
     * backward when no step scope owns the activations. Intermediate Vars must not be used afterwards.
     */
    public void release() {
        Engine.release(this);
    }

    /** Frees this Var's data (and its gradient). Closing a view of another Var frees nothing. */
    @Override
    public void close() {
        zeroGrad();
        if (ownsStorage) data.storage().close();
        else data.close();
    }

    @Override
    public String toString() {
        return "Var(" + data + (gradFn != null ? ", gradFn=" + gradFn.name() : requiresGrad ? ", requiresGrad" : "") + ")";
    }

    // ------------------------------------------------------------------ fluent ops (see F)

    /** {@code F.add(this, o)}. */
    public Var add(Var o) { return F.add(this, o); }
    /** {@code F.sub(this, o)}. */
    public Var sub(Var o) { return F.sub(this, o); }
    /** {@code F.mul(this, o)}. */
    public Var mul(Var o) { return F.mul(this, o); }
    /** {@code F.div(this, o)}. */
    public Var div(Var o) { return F.div(this, o); }
    /** {@code F.add(this, c)}. */
    public Var add(double c) { return F.add(this, c); }
    /** {@code F.mul(this, c)}. */
    public Var mul(double c) { return F.mul(this, c); }
    /** {@code F.pow(this, p)}. */
    public Var pow(double p) { return F.pow(this, p); }
    /** {@code F.neg(this)}. */
    public Var neg() { return F.neg(this); }
    /** {@code F.exp(this)}. */
    public Var exp() { return F.exp(this); }
    /** {@code F.log(this)}. */
    public Var log() { return F.log(this); }
    /** {@code F.sqrt(this)}. */
    public Var sqrt() { return F.sqrt(this); }
    /** {@code F.tanh(this)}. */
    public Var tanh() { return F.tanh(this); }
    /** {@code F.sigmoid(this)}. */
    public Var sigmoid() { return F.sigmoid(this); }
    /** {@code F.relu(this)}. */
    public Var relu() { return F.relu(this); }
    /** {@code F.silu(this)}. */
    public Var silu() { return F.silu(this); }
    /** {@code F.square(this)}. */
    public Var square() { return F.square(this); }
    /** {@code F.sum(this)}. */
    public Var sum() { return F.sum(this); }
    /** {@code F.sum(this, dim, keepdim)}. */
    public Var sum(int dim, boolean keepdim) { return F.sum(this, dim, keepdim); }
    /** {@code F.mean(this)}. */
    public Var mean() { return F.mean(this); }
    /** {@code F.mean(this, dim, keepdim)}. */
    public Var mean(int dim, boolean keepdim) { return F.mean(this, dim, keepdim); }
    /** {@code F.matmul(this, o)}. */
    public Var matmul(Var o) { return F.matmul(this, o); }
    /** {@code F.reshape(this, shape)}. */
    public Var reshape(int... shape) { return F.reshape(this, shape); }
    /** {@code F.transpose(this, d0, d1)}. */
    public Var transpose(int d0, int d1) { return F.transpose(this, d0, d1); }
    /** {@code F.permute(this, order)}. */
    public Var permute(int... order) { return F.permute(this, order); }
    /** {@code F.narrow(this, dim, start, length)}. */
    public Var narrow(int dim, int start, int length) { return F.narrow(this, dim, start, length); }
    /** {@code F.softmax(this, dim)}. */
    public Var softmax(int dim) { return F.softmax(this, dim); }
    /** {@code F.logSoftmax(this, dim)}. */
    public Var logSoftmax(int dim) { return F.logSoftmax(this, dim); }
}
