package io.lowbit.autograd;

import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.ModuleList;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.ops.RopeTable;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/** A LLaMA-style pre-norm transformer for tests: blocks of RMSNorm → GQA attention with RoPE → RMSNorm → SwiGLU MLP. */
final class TinyTransformer extends Layer {
    static final class Attention extends Layer {
        Layer qProj, kProj, vProj, oProj;
        final int heads, kvHeads, headDim;
        final RopeTable rope;

        Attention(int dim, int heads, int kvHeads, RopeTable rope, Rng rng, DType dt) {
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.headDim = dim / heads;
            this.rope = rope;
            qProj = registerModule("q_proj", new Linear(dim, heads * headDim, false, rng, dt));
            kProj = registerModule("k_proj", new Linear(dim, kvHeads * headDim, false, rng, dt));
            vProj = registerModule("v_proj", new Linear(dim, kvHeads * headDim, false, rng, dt));
            oProj = registerModule("o_proj", new Linear(heads * headDim, dim, false, rng, dt));
        }

        @Override
        public Var forward(Var x) {
            int b = x.size(0), t = x.size(1);
            Var q = F.rope(F.reshape(qProj.forward(x), b, t, heads, headDim), rope, 0);
            Var k = F.rope(F.reshape(kProj.forward(x), b, t, kvHeads, headDim), rope, 0);
            Var v = F.reshape(vProj.forward(x), b, t, kvHeads, headDim);
            return oProj.forward(F.reshape(F.causalAttention(q, k, v), b, t, heads * headDim));
        }
    }

    static final class Mlp extends Layer {
        Layer gate, up, down;

        Mlp(int dim, int hidden, Rng rng, DType dt) {
            gate = registerModule("gate_proj", new Linear(dim, hidden, false, rng, dt));
            up = registerModule("up_proj", new Linear(dim, hidden, false, rng, dt));
            down = registerModule("down_proj", new Linear(hidden, dim, false, rng, dt));
        }

        @Override
        public Var forward(Var x) {
            return down.forward(F.swiglu(gate.forward(x), up.forward(x)));
        }
    }

    static final class Block extends Layer {
        final RMSNorm attnNorm, mlpNorm;
        final Attention attn;
        final Mlp mlp;

        Block(int dim, int heads, int kvHeads, int hidden, RopeTable rope, Rng rng, DType dt) {
            attnNorm = registerModule("attn_norm", new RMSNorm(dim, 1e-5, dt));
            attn = registerModule("attn", new Attention(dim, heads, kvHeads, rope, rng, dt));
            mlpNorm = registerModule("mlp_norm", new RMSNorm(dim, 1e-5, dt));
            mlp = registerModule("mlp", new Mlp(dim, hidden, rng, dt));
        }

        @Override
        public Var forward(Var x) {
            Var h = F.add(x, attn.forward(attnNorm.forward(x)));
            return F.add(h, mlp.forward(mlpNorm.forward(h)));
        }
    }

    final ModuleList<Block> layers = registerModule("layers", new ModuleList<>());
    final Linear head;
    boolean checkpoint;

    TinyTransformer(int nLayers, int dim, int heads, int kvHeads, int hidden, int vocab, int maxSeq, long seed, DType dt) {
        Rng rng = new Rng(seed);
        RopeTable rope = new RopeTable(dim / heads, maxSeq, 10000, RopeTable.Layout.HALF);
        for (int i = 0; i < nLayers; i++) layers.add(new Block(dim, heads, kvHeads, hidden, rope, rng, dt));
        head = registerModule("lm_head", new Linear(dim, vocab, false, rng, dt));
    }

    @Override
    public Var forward(Var x) {
        for (Block b : layers) x = checkpoint ? Checkpoint.checkpoint(in -> b.forward(in[0]), x) : b.forward(x);
        return head.forward(x);
    }

    Var loss(Var x, Tensor targets) {
        return F.crossEntropy(forward(x), targets);
    }
}
