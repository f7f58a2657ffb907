package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.Rng;

/** Inverted dropout with probability p while training, identity in eval mode ({@code nn.Dropout}). */
public final class Dropout extends Layer {
    private final double p;
    private final Rng rng;

    /** @param rng the dropout stream (fork a named one: {@code rng.fork("dropout")}) */
    public Dropout(double p, Rng rng) {
        this.p = p;
        this.rng = rng;
    }

    @Override
    public Var forward(Var x) {
        return F.dropout(x, p, rng, isTraining());
    }
}
