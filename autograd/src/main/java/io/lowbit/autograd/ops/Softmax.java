package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

/**
 * Softmax and log-softmax along one dimension. Softmax saves its output y:
 * ∂/∂x = y·(g − Σ g·y). Log-softmax saves its output y: ∂/∂x = g − exp(y)·Σ g.
 */
final class Softmax extends Function {
    private final int dim;
    private final boolean log;

    Softmax(int dim, boolean log) {
        this.dim = dim;
        this.log = log;
    }

    @Override public String name() { return log ? "LogSoftmax" : "Softmax"; }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor y = log ? in[0].logSoftmax(dim) : in[0].softmax(dim);
        saveForBackward(y);
        return y;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor y = saved(0);
        try (MemoryScope s = MemoryScope.open()) {
            if (log) return new Tensor[] {s.keep(g.sub(y.exp().mul(g.sum(dim, true))))};
            return new Tensor[] {s.keep(y.mul(g.sub(g.mul(y).sum(dim, true))))};
        }
    }
}
