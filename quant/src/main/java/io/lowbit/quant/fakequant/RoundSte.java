package io.lowbit.quant.fakequant;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.Tensor;

/**
 * Rounding to the nearest integer (ties to even, {@link Math#rint}) with the straight-through estimator:
 * forward ⌊x⌉, backward dL/dx = dL/dy (Bengio et al. 2013).
 */
public final class RoundSte extends Function {
    @Override
    protected Tensor forward(Tensor... in) {
        return in[0].round();
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g};
    }
}
