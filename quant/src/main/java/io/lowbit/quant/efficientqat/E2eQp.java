package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.ClipGrad;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.tensor.MemoryScope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * EfficientQAT phase 2, E2E-QP (spec "Phase 2"): with every linear frozen as integers
 * ({@link ScaleOnlyQuantLinear}), only the step sizes s train, end to end on a task loss; every other
 * parameter of the model (embeddings, norms, head) is frozen (requiresGrad off) when this trainer is made.
 * Model-agnostic: {@link #step} takes the loss as a supplier (the caller runs its model, with gradient
 * checkpointing if it wants).
 */
public final class E2eQp implements AutoCloseable {
    private final List<Parameter> scales = new ArrayList<>();
    private final AdamW optimizer;
    private final LrScheduler schedule;
    private final E2eQpConfig cfg;

    /** Freezes everything in {@code model} but the step sizes of its {@link ScaleOnlyQuantLinear} layers. */
    public E2eQp(Module model, E2eQpConfig cfg) {
        this.cfg = cfg;
        for (Module m : model.namedModules().values()) if (m instanceof ScaleOnlyQuantLinear q) scales.add(q.scale());
        if (scales.isEmpty()) throw new IllegalArgumentException("model has no ScaleOnlyQuantLinear layers (run Block-AP and freeze first)");
        Set<Parameter> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        keep.addAll(scales);
        for (Parameter p : model.parameters()) p.requiresGrad(keep.contains(p));
        optimizer = new AdamW(List.of(new ParamGroup(scales, cfg.lr(), 0)), 0.9, 0.999, 1e-8);
        schedule = new LrScheduler(Schedule.warmupCosine(cfg.warmupSteps(), cfg.steps(), cfg.minLrRatio()), optimizer);
    }

    /** The trainable step sizes. */
    public List<Parameter> scales() {
        return Collections.unmodifiableList(scales);
    }

    /** One step: loss, backward, clip, AdamW on s, s clamped to [1e-4, 1e4], schedule; returns the loss value. */
    public double step(Supplier<Var> loss) {
        try (MemoryScope _ = MemoryScope.open()) {
            Var l = loss.get();
            double v = l.item();
            l.backwardAndRelease();
            if (cfg.clipNorm() > 0) ClipGrad.clipGradNorm(scales, cfg.clipNorm());
            optimizer.step();
            optimizer.zeroGrad();
            projectScales();
            schedule.step();
            return v;
        }
    }

    /** Keeps every step size in [1e-4, 1e4] (the spec's clamp of s), so the integers stay storable. */
    private void projectScales() {
        for (Parameter p : scales) {
            var d = p.data();
            for (long i = 0, n = d.numel(); i < n; i++)
                d.setDouble(i, Math.max(EfficientQatLinear.S_MIN, Math.min(EfficientQatLinear.S_MAX, d.getDouble(i))));
        }
    }

    /** Frees the optimizer state. */
    @Override
    public void close() {
        optimizer.zeroGrad();
        optimizer.close();
    }
}
