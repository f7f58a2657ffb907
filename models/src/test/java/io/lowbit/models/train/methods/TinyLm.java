package io.lowbit.models.train.methods;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Embedding;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * A two-block toy language model made of the pieces the methods adapt: token embedding, per block an
 * RMSNorm + "attention-like" mixing (q_proj → silu → o_proj, no real attention) and a SwiGLU MLP
 * (gate_proj, up_proj, down_proj), final norm and an lm_head. Layer fields are non-final {@link Layer}s
 * so {@link Module#replace} can swap them.
 */
final class TinyLm extends Module {
    static final class Block extends Module {
        private Layer q_proj, o_proj, gate_proj, up_proj, down_proj;
        private final RMSNorm norm1, norm2;

        Block(int d, int h, Rng rng) {
            norm1 = registerModule("norm1", new RMSNorm(d, 1e-6));
            q_proj = registerModule("q_proj", new Linear(d, d, false, rng));
            o_proj = registerModule("o_proj", new Linear(d, d, false, rng));
            norm2 = registerModule("norm2", new RMSNorm(d, 1e-6));
            gate_proj = registerModule("gate_proj", new Linear(d, h, false, rng));
            up_proj = registerModule("up_proj", new Linear(d, h, false, rng));
            down_proj = registerModule("down_proj", new Linear(h, d, false, rng));
        }

        Var forward(Var x) {
            Var a = o_proj.forward(F.silu(q_proj.forward(norm1.forward(x))));
            x = F.add(x, a);
            Var n = norm2.forward(x);
            return F.add(x, down_proj.forward(F.swiglu(gate_proj.forward(n), up_proj.forward(n))));
        }
    }

    final int vocab;
    private final Embedding embed;
    private final Block b0, b1;
    private final RMSNorm norm;
    private Layer lm_head;

    TinyLm(int vocab, int d, int h, Rng rng) {
        this.vocab = vocab;
        embed = registerModule("embed_tokens", new Embedding(vocab, d, rng));
        b0 = registerModule("b0", new Block(d, h, rng));
        b1 = registerModule("b1", new Block(d, h, rng));
        norm = registerModule("norm", new RMSNorm(d, 1e-6));
        lm_head = registerModule("lm_head", new Linear(d, vocab, false, rng));
    }

    /** Logits [n, vocab] for token ids [n] (each position predicts from its own token only). */
    Var forward(Tensor ids) {
        Var h = embed.forward(ids);
        return lm_head.forward(norm.forward(b1.forward(b0.forward(h))));
    }
}
