package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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

    /** One group with the given hyperparameters. */
    public SGD(List<? extends Var> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        this(List.of(new ParamGroup(params, lr, weightDecay)), momentum, dampening, nesterov);
    }

    /** Several groups with their own lr / weight decay and shared momentum settings. */
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
        if (w.dtype() == DType.F32 && grad.dtype() == DType.F32) {
            updateF32(w, grad, buf, first, lr, wd);
            return;
        }
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

    /** The same update on contiguous F32 memory, in parallel chunks. */
    private void updateF32(Tensor w, Tensor grad, Tensor buf, boolean first, double lr, double wd) {
        var F = ValueLayout.JAVA_FLOAT;
        MemorySegment sw = w.segment(), sg = grad.segment(), sb = buf == null ? null : buf.segment();
        long wo = w.offset(), go = grad.offset();
        Parallel.range(w.numel(), 1 << 15, (lo, hi) -> {
            for (long i = lo; i < hi; i++) {
                float th = sw.getAtIndex(F, wo + i);
                double g = sg.getAtIndex(F, go + i) + wd * th;
                if (sb != null) {
                    float b = (float) (first ? g : momentum * sb.getAtIndex(F, i) + (1 - dampening) * g);
                    sb.setAtIndex(F, i, b);
                    g = nesterov ? g + momentum * b : b;
                }
                sw.setAtIndex(F, wo + i, (float) (th - lr * g));
            }
        });
    }
}
