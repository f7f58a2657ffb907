package io.lowbit.models.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.RMSNorm;

/**
 * One pre-norm decoder block (Hugging Face's {@code LlamaDecoderLayer}):
 * <pre>
 *   h = x + self_attn(input_layernorm(x))
 *   y = h + mlp(post_attention_layernorm(h))
 * </pre>
 */
public final class LlamaDecoderLayer extends Layer {
    private Layer inputLayernorm, selfAttn, postAttentionLayernorm, mlp;

    LlamaDecoderLayer(RMSNorm inputNorm, LlamaAttention attn, RMSNorm postNorm, LlamaMlp mlp) {
        inputLayernorm = registerModule("input_layernorm", inputNorm);
        selfAttn = registerModule("self_attn", attn);
        postAttentionLayernorm = registerModule("post_attention_layernorm", postNorm);
        this.mlp = registerModule("mlp", mlp);
    }

    @Override
    public Var forward(Var x) {
        Var h = x.add(selfAttn.forward(inputLayernorm.forward(x)));
        return h.add(mlp.forward(postAttentionLayernorm.forward(h)));
    }
}
