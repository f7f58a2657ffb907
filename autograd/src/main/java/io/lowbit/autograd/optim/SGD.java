package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.Tensor;
import java.util.List;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and (coupled, L2) weight decay,
 * following PyTorch's {@code torch.optim.SGD}:
 * <pre>
 *   g ← g + λ·θ
 *   b ← g (first step) or μ·b + (1 − τ)·g
 *   g ← g + μ·b (Nesterov) or b
 *   θ ← θ − lr·g
 * </pre>
 * State: "momentum_buffer" when μ ≠ 0.
 */
public class SGD extends Optimizer {
    private final double momentum, dampening;
    private final boolean nesterov;

    /** Plain SGD. */
    public SGD(List<? extends Var> params, double lr) {
        this(params, lr, 0, 0, 0, false);
    }

    public SGD(List<? extends Var> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        this(List.of(new ParamGroup(params, lr, weightDecay)), momentum, dampening, nesterov);
    }

    public SGD(List<ParamGroup> groups, double momentum, double dampening, boolean nesterov) {
        super(groups);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
    }

    @Override
    protected void initState(Var p, State s) {
        if (momentum != 0 && !s.tensors.containsKey("momentum_buffer")) s.zeros("momentum_buffer", p.dtype(), p.shape());
    }

    @Override
    protected void update(Var p, Tensor grad, ParamGroup group, State s) {
        boolean first = momentum != 0 && !s.tensors.containsKey("momentum_buffer");
        initState(p, s);
        Tensor w = p.data(), buf = s.tensors.get("momentum_buffer");
        double lr = group.lr(), wd = group.weightDecay();
        for (long i = 0, n = w.numel(); i < n; i++) {
            double th = w.getDouble(i);
            double g = grad.getDouble(i) + wd * th;
            if (buf != null) {
                double b = first ? g : momentum * buf.getDouble(i) + (1 - dampening) * g;
                buf.setDouble(i, b);
                g = nesterov ? g + momentum * b : b;
            }
            w.setDouble(i, th - lr * g);
        }
    }
}
