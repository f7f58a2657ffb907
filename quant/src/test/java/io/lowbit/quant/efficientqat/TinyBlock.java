package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.Rng;

/** A pre-norm residual MLP block, x + down(silu(up(norm(x)))): the smallest thing shaped like a transformer block. */
final class TinyBlock extends Layer {
    private Layer norm, up, down; // non-final, typed Layer: Block-AP replaces the linears

    TinyBlock(int d, int h, Rng rng) {
        norm = registerModule("norm", new RMSNorm(d, 1e-6));
        up = registerModule("up", new Linear(d, h, false, rng));
        down = registerModule("down", new Linear(h, d, false, rng));
    }

    @Override
    public Var forward(Var x) {
        return F.add(x, down.forward(F.silu(up.forward(norm.forward(x)))));
    }
}
