package io.lowbit.models.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.ops.F;

/**
 * Hugging Face's {@code LlamaMLP}: the SwiGLU feed-forward block (Shazeer 2020, eq. 6 with SiLU),
 * {@code down_proj(silu(gate_proj(x)) ⊙ up_proj(x))}. The three projections are replaceable {@link Layer}s.
 */
public final class LlamaMlp extends Layer {
    private Layer gateProj, upProj, downProj; // non-final: Module.replace swaps them

    LlamaMlp(Layer gate, Layer up, Layer down) {
        gateProj = registerModule("gate_proj", gate);
        upProj = registerModule("up_proj", up);
        downProj = registerModule("down_proj", down);
    }

    @Override
    public Var forward(Var x) {
        return downProj.forward(F.swiglu(gateProj.forward(x), upProj.forward(x)));
    }
}
