package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import java.util.List;

/**
 * Parameters that share a learning rate and weight decay (PyTorch's param_groups). The learning rate is
 * mutable so schedules can set it; {@link #initialLr()} keeps the configured value.
 */
public final class ParamGroup {
    private final List<Var> params;
    private final double initialLr;
    private double lr;
    private final double weightDecay;

    /** A group of leaves with learning rate {@code lr} and weight decay {@code weightDecay}. */
    public ParamGroup(List<? extends Var> params, double lr, double weightDecay) {
        if (params.isEmpty()) throw new IllegalArgumentException("a parameter group needs at least one parameter");
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        for (Var p : params) if (!p.isLeaf()) throw new IllegalArgumentException("optimizers update leaves only, got " + p);
        this.params = List.copyOf(params);
        this.initialLr = lr;
        this.lr = lr;
        this.weightDecay = weightDecay;
    }

    /** The parameters. */
    public List<Var> params() { return params; }
    /** The current learning rate. */
    public double lr() { return lr; }
    /** The configured learning rate (schedules multiply this). */
    public double initialLr() { return initialLr; }
    /** The weight decay λ. */
    public double weightDecay() { return weightDecay; }

    /** Sets the current learning rate (schedules call this). */
    public void setLr(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }
}
