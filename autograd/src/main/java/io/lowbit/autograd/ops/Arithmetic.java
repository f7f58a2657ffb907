package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

/**
 * Binary arithmetic with NumPy broadcasting and scalar arithmetic. Each backward undoes the broadcast
 * with {@link Grads#reduceTo} (a sum over the broadcast dimensions).
 */
final class Arithmetic {
    private Arithmetic() {}

    /** a + b: ∂/∂a = g, ∂/∂b = g. */
    static final class Add extends Function {
        private int[] sa, sb;

        @Override protected Tensor forward(Tensor... in) {
            sa = in[0].shape(); sb = in[1].shape();
            return in[0].add(in[1]);
        }

        @Override protected Tensor[] backward(Tensor g) {
            return new Tensor[] {needsInputGrad(0) ? Grads.reduceTo(g, sa) : null, needsInputGrad(1) ? Grads.reduceTo(g, sb) : null};
        }
    }

    /** a − b: ∂/∂a = g, ∂/∂b = −g. */
    static final class Sub extends Function {
        private int[] sa, sb;

        @Override protected Tensor forward(Tensor... in) {
            sa = in[0].shape(); sb = in[1].shape();
            return in[0].sub(in[1]);
        }

        @Override protected Tensor[] backward(Tensor g) {
            return new Tensor[] {needsInputGrad(0) ? Grads.reduceTo(g, sa) : null, needsInputGrad(1) ? Grads.reduceOwned(g.neg(), sb) : null};
        }
    }

    /** a·b: ∂/∂a = g·b, ∂/∂b = g·a. */
    static final class Mul extends Function {
        @Override protected Tensor forward(Tensor... in) {
            saveForBackward(in[0], in[1]);
            return in[0].mul(in[1]);
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor a = saved(0), b = saved(1);
            return new Tensor[] {
                needsInputGrad(0) ? Grads.reduceOwned(g.mul(b), a.shape()) : null,
                needsInputGrad(1) ? Grads.reduceOwned(g.mul(a), b.shape()) : null};
        }
    }

    /** a / b: ∂/∂a = g / b, ∂/∂b = −g·a / b². */
    static final class Div extends Function {
        @Override protected Tensor forward(Tensor... in) {
            saveForBackward(in[0], in[1]);
            return in[0].div(in[1]);
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor a = saved(0), b = saved(1);
            Tensor ga = needsInputGrad(0) ? Grads.reduceOwned(g.div(b), a.shape()) : null;
            Tensor gb = null;
            if (needsInputGrad(1)) {
                try (MemoryScope s = MemoryScope.open()) {
                    gb = s.keep(Grads.reduceOwned(g.mul(a).div(b.square()).neg(), b.shape()));
                }
            }
            return new Tensor[] {ga, gb};
        }
    }

    /** x + c: ∂/∂x = g. */
    static final class AddScalar extends Function {
        private final double c;
        AddScalar(double c) { this.c = c; }

        @Override protected Tensor forward(Tensor... in) { return in[0].add(c); }

        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g}; }
    }

    /** x·c: ∂/∂x = c·g. */
    static final class MulScalar extends Function {
        private final double c;
        MulScalar(double c) { this.c = c; }

        @Override protected Tensor forward(Tensor... in) { return in[0].mul(c); }

        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g.mul(c)}; }
    }

    /** xᵖ: ∂/∂x = p·xᵖ⁻¹·g. */
    static final class Pow extends Function {
        private final double p;
        Pow(double p) { this.p = p; }

        @Override protected Tensor forward(Tensor... in) {
            saveForBackward(in[0]);
            return in[0].pow(p);
        }

        @Override protected Tensor[] backward(Tensor g) {
            try (MemoryScope s = MemoryScope.open()) {
                return new Tensor[] {s.keep(saved(0).pow(p - 1).mul(p).mul(g))};
            }
        }
    }
}
