package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Per-layer (per-parameter) updates during backward (LoQT's "per-layer" mode; PyTorch's
 * optimizer-in-backward recipe): every parameter gets its own optimizer, and a post-accumulate-grad hook
 * steps it and frees the gradient as soon as backward has finished that parameter. Gradients of different
 * parameters therefore never coexist, so gradient memory is one parameter's worth. There is no gradient
 * accumulation across backward calls and no global clipping in this mode, and a parameter shared by two
 * checkpointed segments is stepped once per segment.
 * <pre>{@code
 * try (var opt = PerLayerOptimizer.attach(model.parameters(), ps -> new AdamW8bit(ps))) {
 *     loss.backward();   // parameters are updated during this call
 * }
 * }</pre>
 */
public final class PerLayerOptimizer implements AutoCloseable {
    private final List<Optimizer> optimizers = new ArrayList<>();
    private final List<Var.HookHandle> hooks = new ArrayList<>();

    private PerLayerOptimizer() {}

    /** Creates one optimizer per parameter with {@code factory} and installs the stepping hooks. */
    public static PerLayerOptimizer attach(List<? extends Var> params, Function<List<Var>, Optimizer> factory) {
        PerLayerOptimizer o = new PerLayerOptimizer();
        for (Var p : params) {
            Optimizer opt = factory.apply(List.of(p));
            o.optimizers.add(opt);
            o.hooks.add(p.registerPostAccumulateGradHook(v -> {
                opt.step(v);
                v.zeroGrad();
            }));
        }
        return o;
    }

    /** The per-parameter optimizers, in parameter order (for schedules and state dicts). */
    public List<Optimizer> optimizers() {
        return List.copyOf(optimizers);
    }

    /** Removes the hooks and frees every optimizer's state. */
    @Override
    public void close() {
        for (Var.HookHandle h : hooks) h.close();
        for (Optimizer o : optimizers) o.close();
    }
}
