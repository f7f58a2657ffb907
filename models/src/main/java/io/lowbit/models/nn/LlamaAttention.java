package io.lowbit.models.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.ops.RopeTable;
import io.lowbit.models.LlamaConfig;

/**
 * Hugging Face's {@code LlamaAttention} (Touvron et al. 2023): q, k, v projections, rotary embedding of q and k
 * (Su et al. 2021, rotate-half pairing as in HF checkpoints), causal grouped-query attention (Ainslie et al.
 * 2023) with Mistral's optional sliding window, and the output projection:
 * <pre>
 *   q = RoPE(x·Wqᵀ), k = RoPE(x·Wkᵀ), v = x·Wvᵀ;   out = Attention(q, k, v)·Woᵀ
 * </pre>
 * Children {@code q_proj, k_proj, v_proj, o_proj} are {@link Layer}s (bias-free linears at first) that training
 * methods may replace by path; the forward calls each one's {@code forward(Var)}.
 */
public final class LlamaAttention extends Layer {
    private final int heads, kvHeads, headDim, window;
    private final RopeTable rope;
    private Layer qProj, kProj, vProj, oProj; // non-final: Module.replace swaps them

    LlamaAttention(LlamaConfig c, RopeTable rope, Layer q, Layer k, Layer v, Layer o) {
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        this.headDim = c.headDim();
        this.window = c.slidingWindow();
        this.rope = rope;
        qProj = registerModule("q_proj", q);
        kProj = registerModule("k_proj", k);
        vProj = registerModule("v_proj", v);
        oProj = registerModule("o_proj", o);
    }

    /** x [B, T, d] → [B, T, d]; token t sits at position t. */
    @Override
    public Var forward(Var x) {
        int b = x.size(0), t = x.size(1);
        Var q = F.rope(qProj.forward(x).reshape(b, t, heads, headDim), rope, 0);
        Var k = F.rope(kProj.forward(x).reshape(b, t, kvHeads, headDim), rope, 0);
        Var v = vProj.forward(x).reshape(b, t, kvHeads, headDim);
        Var a = F.causalAttention(q, k, v, window); // [B, T, Hq, d_h]; window 0 = full causal attention
        return oProj.forward(a.reshape(b, t, heads * headDim));
    }
}
