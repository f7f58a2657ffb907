package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/** Matrix products: batched matmul and the linear layer y = x·Wᵀ + b. */
final class MatMuls {
    private MatMuls() {}

    /**
     * C = A·B over the last two dimensions, batch dimensions broadcast (both operands at least 2-D).
     * ∂/∂A = G·Bᵀ, ∂/∂B = Aᵀ·G, each summed over the batch dimensions its operand was broadcast along.
     */
    static final class MatMul extends Function {
        @Override protected Tensor forward(Tensor... in) {
            if (in[0].dim() < 2 || in[1].dim() < 2)
                throw new IllegalArgumentException("matmul needs operands of rank >= 2, got " + Arrays.toString(in[0].shape())
                        + " and " + Arrays.toString(in[1].shape()) + "; reshape vectors to [1, n] or [n, 1]");
            saveForBackward(in[0], in[1]);
            return in[0].matmul(in[1]);
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor a = saved(0), b = saved(1);
            Tensor ga = needsInputGrad(0) ? Grads.reduceOwned(g.matmul(b.transpose(-1, -2)), a.shape()) : null;
            Tensor gb = null;
            if (needsInputGrad(1)) {
                if (b.dim() == 2 && a.dim() > 2) { // fold the batch into rows: Aᵀ·G is one [k, m·batch]·[m·batch, n] product
                    try (MemoryScope s = MemoryScope.open()) {
                        Tensor a2 = a.reshape(-1, a.size(-1)), g2 = g.reshape(-1, g.size(-1));
                        gb = s.keep(a2.transpose(0, 1).matmul(g2));
                    }
                } else {
                    gb = Grads.reduceOwned(a.transpose(-1, -2).matmul(g), b.shape());
                }
            }
            return new Tensor[] {ga, gb};
        }
    }

    /**
     * y = x·Wᵀ + b with W stored [out, in] (PyTorch's layout) and x of shape [..., in].
     * ∂/∂x = G·W, ∂/∂W = Gᵀ·x (rows of all batch positions), ∂/∂b = Σ_rows G.
     */
    static final class Linear extends Function {
        @Override protected Tensor forward(Tensor... in) {
            Tensor x = in[0], w = in[1];
            if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(1))
                throw new IllegalArgumentException("linear: input " + Arrays.toString(x.shape()) + " and weight "
                        + Arrays.toString(w.shape()) + " (expected weight [out, " + (x.dim() > 0 ? x.size(-1) : "?") + "])");
            if (in.length > 2 && (in[2].dim() != 1 || in[2].size(0) != w.size(0)))
                throw new IllegalArgumentException("linear: bias " + Arrays.toString(in[2].shape()) + " for weight " + Arrays.toString(w.shape()));
            saveForBackward(x, w);
            Tensor y = x.matmul(w.t()); // Wᵀ is a transposed view: no copy; batch dims of x broadcast over W
            if (in.length > 2) y.addInPlace(in[2]);
            return y;
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor x = saved(0), w = saved(1);
            Tensor[] out = new Tensor[inputCount()];
            try (MemoryScope s = MemoryScope.open()) {
                Tensor g2 = g.reshape(-1, g.size(-1));
                if (needsInputGrad(0)) out[0] = s.keep(g2.matmul(w)).reshape(x.shape());
                if (needsInputGrad(1)) out[1] = s.keep(g2.t().matmul(x.reshape(-1, x.size(-1))));
                if (out.length > 2 && needsInputGrad(2)) out[2] = s.keep(Grads.sumTo(g2, new int[] {g2.size(1)}));
            }
            return out;
        }

        private int inputCount() {
            return hasBias ? 3 : 2;
        }

        private final boolean hasBias;

        Linear(boolean hasBias) {
            this.hasBias = hasBias;
        }
    }
}
