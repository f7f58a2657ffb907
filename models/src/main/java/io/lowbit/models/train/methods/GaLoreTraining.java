package io.lowbit.models.train.methods;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.galore.GaLoreAdamW;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * GaLore (specs/baselines.md): the model keeps full-rank weights and every parameter trains; the
 * q/k/v/o/gate/up/down weights get low-rank projected Adam states from {@link GaLoreAdamW} (rank
 * {@link MethodOptions#rank()}, projection refreshed every {@link MethodOptions#tau()} steps, update scale
 * {@link MethodOptions#scale()} = α). The run's lr, weight decay, betas and ε are taken from the trainer's
 * default optimizer (which must be AdamW or 8-bit AdamW; GaLore's own states are fp32, and the parameters
 * that are not projected get fp32 AdamW).
 */
public final class GaLoreTraining implements TrainingMethod {
    private final MethodOptions options;
    private final List<Parameter> projected = new ArrayList<>();

    /** GaLore with the given rank / τ / α. */
    public GaLoreTraining(MethodOptions options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "galore";
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!projected.isEmpty()) throw new IllegalStateException("galore: prepare called twice");
        for (Linear l : AdaptedLayers.find(model).values()) projected.add(l.weight());
    }

    @Override
    public List<Parameter> trainable(Module model) {
        return AdaptedLayers.requiringGrad(model);
    }

    @Override
    public Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        if (projected.isEmpty()) throw new IllegalStateException("galore: optimizer requested before prepare");
        List<ParamGroup> groups = new ArrayList<>();
        double b1, b2, eps;
        try (Optimizer def = defaultFactory.apply(params)) {
            if (!(def instanceof AdamW a))
                throw new IllegalArgumentException("galore needs an AdamW-family optimizer, the run's is " + def.getClass().getSimpleName());
            b1 = a.beta1();
            b2 = a.beta2();
            eps = a.eps();
            for (ParamGroup g : def.paramGroups()) groups.add(new ParamGroup(g.params(), g.initialLr(), g.weightDecay()));
        }
        Set<Var> inRun = Collections.newSetFromMap(new IdentityHashMap<>());
        inRun.addAll(params);
        List<Parameter> proj = new ArrayList<>();
        for (Parameter p : projected) if (inRun.contains(p)) proj.add(p);
        return new GaLoreAdamW(groups, b1, b2, eps, proj, options.rank(), options.tau(), options.scale(), 0x6A10AEL);
    }
}
