package io.lowbit.autograd.optim;

import java.util.List;

/**
 * Applies a {@link Schedule} to the parameter groups of one or more optimizers (PyTorch's LambdaLR):
 * each group's lr becomes its initial lr × multiplier(step). Construction applies step 0; call
 * {@link #step()} after each optimizer step.
 */
public final class LrScheduler {
    private final List<Optimizer> optimizers;
    private final Schedule schedule;
    private long step;

    /** Schedules every group of the given optimizers and applies step 0. */
    public LrScheduler(Schedule schedule, Optimizer... optimizers) {
        this(schedule, List.of(optimizers));
    }

    /** Schedules every group of the given optimizers (e.g. a {@link PerLayerOptimizer}'s) and applies step 0. */
    public LrScheduler(Schedule schedule, List<? extends Optimizer> optimizers) {
        this.schedule = schedule;
        this.optimizers = List.copyOf(optimizers);
        apply();
    }

    /** Advances one step and sets the new learning rates. */
    public void step() {
        step++;
        apply();
    }

    /** The current step (saved with checkpoints). */
    public long currentStep() {
        return step;
    }

    /** Jumps to a step (resuming from a checkpoint). */
    public void setStep(long step) {
        this.step = step;
        apply();
    }

    private void apply() {
        double m = schedule.multiplier(step);
        for (Optimizer o : optimizers) for (ParamGroup g : o.paramGroups()) g.setLr(g.initialLr() * m);
    }
}
