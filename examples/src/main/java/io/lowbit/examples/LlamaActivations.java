package io.lowbit.examples;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.ops.RopeTable;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

import java.util.function.BiConsumer;

/**
 * The LLaMA forward pass written out with autograd's {@link F} ops (one sequence, no KV cache), showing
 * the input of every linear layer to a callback: what a calibration method (GPTQ) needs to see. The
 * inference engine ({@link io.lowbit.models.llama.LlamaModel}) is faster but does not expose its
 * intermediate values; the test checks that both give the same logits.
 */
public final class LlamaActivations {
    private LlamaActivations() {}

    /**
     * Runs {@code ids} through the model. For each block {@code l}, {@code tap} receives
     * ("layers.l.wq", x) with the input of the q/k/v projections, ("layers.l.wo", ...), ("layers.l.w1", ...)
     * for the gate/up projections, and ("layers.l.w2", ...) for the down projection; each x is [T, in] and
     * only valid during the call. Returns the logits [T, vocab] (the caller closes them).
     */
    public static Tensor forward(LlamaWeights w, int[] ids, BiConsumer<String, Tensor> tap) {
        LlamaConfig c = w.config();
        if (c.ropeScaling() != null) throw new IllegalArgumentException("LlamaActivations does not implement RoPE scaling");
        int t = ids.length, heads = c.numAttentionHeads(), kvHeads = c.numKeyValueHeads(), hd = c.headDim();
        double eps = c.rmsNormEps();
        // angles rounded to float like the reference implementations (and LlamaModel)
        RopeTable rope = RopeTable.float32Angles(hd, t, c.ropeTheta(),
                w.ropeLayout() == RopeLayout.INTERLEAVED ? RopeTable.Layout.INTERLEAVED : RopeTable.Layout.HALF);
        try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope scope = MemoryScope.open(); Tensor idx = Tensor.of(ids, t)) {
            Var h = F.embedding(Var.of(w.tokEmbeddings()), idx);                       // residual stream [T, dim]
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                LlamaWeights.Layer p = w.layers().get(l);
                String name = "layers." + l + ".";
                // attention: x = RMSNorm(h); q, k, v projections; RoPE on q and k; causal grouped-query attention
                Var x = F.rmsNorm(h, Var.of(p.attnNorm()), eps);
                tap.accept(name + "wq", x.data());
                Var q = F.rope(F.reshape(F.linear(x, Var.of(p.wq())), 1, t, heads, hd), rope, 0);
                Var k = F.rope(F.reshape(F.linear(x, Var.of(p.wk())), 1, t, kvHeads, hd), rope, 0);
                Var v = F.reshape(F.linear(x, Var.of(p.wv())), 1, t, kvHeads, hd);
                Var att = F.reshape(F.causalAttention(q, k, v, c.slidingWindow()), t, heads * hd);
                tap.accept(name + "wo", att.data());
                h = F.add(h, F.linear(att, Var.of(p.wo())));
                // MLP: y = RMSNorm(h); SwiGLU(gate = W1·y, up = W3·y); down projection W2
                Var y = F.rmsNorm(h, Var.of(p.ffnNorm()), eps);
                tap.accept(name + "w1", y.data());
                Var s = F.swiglu(F.linear(y, Var.of(p.w1())), F.linear(y, Var.of(p.w3())));
                tap.accept(name + "w2", s.data());
                h = F.add(h, F.linear(s, Var.of(p.w2())));
            }
            Var logits = F.linear(F.rmsNorm(h, Var.of(w.norm()), eps), Var.of(w.lmHead()));
            return scope.keep(logits.data().contiguous());
        }
    }
}
