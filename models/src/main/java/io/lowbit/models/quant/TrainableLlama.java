package io.lowbit.models.quant;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.ModuleList;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.ops.RopeTable;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;

/**
 * A LLaMA decoder as an autograd module, for fine-tuning: the same math as {@code LlamaModel}, with the
 * Hugging Face module paths {@code layers.i.self_attn.{q,k,v,o}_proj} and {@code layers.i.mlp.{gate,up,down}_proj}
 * so {@link io.lowbit.quant.modulora.ModuLora} can swap the linears. Built from float weights (copied);
 * every parameter starts frozen — a fine-tuning method decides what learns.
 */
public final class TrainableLlama extends Module {
    private final LlamaConfig c;
    private final Parameter embed, norm, head;
    private final ModuleList<Block> layers;
    private final RopeTable rope;

    /** A frozen copy of {@code w} with RoPE tabulated for {@code maxSeq} positions. */
    public TrainableLlama(LlamaWeights w, int maxSeq) {
        this.c = w.config();
        embed = registerParameter("embed_tokens", frozen(w.tokEmbeddings()));
        norm = registerParameter("norm", frozen(w.norm()));
        head = c.tieWordEmbeddings() ? embed : registerParameter("lm_head", frozen(w.lmHead()));
        layers = registerModule("layers", new ModuleList<>());
        for (LlamaWeights.Layer l : w.layers()) layers.add(new Block(l));
        rope = RopeTable.float32Angles(c.headDim(), maxSeq, c.ropeTheta(),
                w.ropeLayout() == RopeLayout.INTERLEAVED ? RopeTable.Layout.INTERLEAVED : RopeTable.Layout.HALF);
    }

    private static Parameter frozen(Tensor t) {
        return new Parameter(t.copy().label(MemoryCategory.WEIGHTS), false);
    }

    /** The model config. */
    public LlamaConfig config() {
        return c;
    }

    /** Logits [B, T, vocab] for I32 token ids [B, T] at positions 0 … T−1. */
    public Var forward(Tensor ids) {
        if (ids.dim() != 2) throw new IllegalArgumentException("ids must be [B, T], got " + java.util.Arrays.toString(ids.shape()));
        if (ids.size(1) > rope.maxSeqLen()) throw new IllegalArgumentException(ids.size(1) + " positions exceed the RoPE table of " + rope.maxSeqLen());
        Var x = F.embedding(embed, ids);
        for (Block b : layers) x = b.forward(x);
        return F.linear(F.rmsNorm(x, norm, c.rmsNormEps()), head);
    }

    /** One pre-norm decoder block. */
    private final class Block extends Module {
        private final Parameter attnNorm, ffnNorm;
        private final Attention attn;
        private final Mlp mlp;

        Block(LlamaWeights.Layer l) {
            attnNorm = registerParameter("input_layernorm", frozen(l.attnNorm()));
            ffnNorm = registerParameter("post_attention_layernorm", frozen(l.ffnNorm()));
            attn = registerModule("self_attn", new Attention(l));
            mlp = registerModule("mlp", new Mlp(l));
        }

        Var forward(Var x) {
            Var h = F.add(x, attn.forward(F.rmsNorm(x, attnNorm, c.rmsNormEps())));
            return F.add(h, mlp.forward(F.rmsNorm(h, ffnNorm, c.rmsNormEps())));
        }
    }

    private static Linear linear(Tensor w) {
        Linear l = new Linear(w.copy(), null);
        l.weight().requiresGrad(false);
        return l;
    }

    /** h = Wo·Attention(RoPE(Wq·x), RoPE(Wk·x), Wv·x), causal, grouped-query. */
    private final class Attention extends Layer {
        private Layer q, k, v, o; // replaceable by adapter layers

        Attention(LlamaWeights.Layer l) {
            q = registerModule("q_proj", linear(l.wq()));
            k = registerModule("k_proj", linear(l.wk()));
            v = registerModule("v_proj", linear(l.wv()));
            o = registerModule("o_proj", linear(l.wo()));
        }

        @Override
        public Var forward(Var x) {
            int b = x.size(0), t = x.size(1), hd = c.headDim();
            Var qh = F.rope(F.reshape(q.forward(x), b, t, c.numAttentionHeads(), hd), rope, 0);
            Var kh = F.rope(F.reshape(k.forward(x), b, t, c.numKeyValueHeads(), hd), rope, 0);
            Var vh = F.reshape(v.forward(x), b, t, c.numKeyValueHeads(), hd);
            Var a = F.causalAttention(qh, kh, vh, c.slidingWindow());
            return o.forward(F.reshape(a, b, t, c.qDim()));
        }
    }

    /** W_down·(silu(W_gate·x) ⊙ W_up·x). */
    private static final class Mlp extends Layer {
        private Layer gate, up, down;

        Mlp(LlamaWeights.Layer l) {
            gate = registerModule("gate_proj", linear(l.w1()));
            up = registerModule("up_proj", linear(l.w3()));
            down = registerModule("down_proj", linear(l.w2()));
        }

        @Override
        public Var forward(Var x) {
            return down.forward(F.swiglu(gate.forward(x), up.forward(x)));
        }
    }
}
