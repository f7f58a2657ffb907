package io.lowbit.models.qat;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.quant.LinearWeight;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Between a trained {@link LlamaForCausalLM} and the project's quantized checkpoint
 * ({@link io.lowbit.models.quant.QuantizedCheckpoint}): {@link #toQuantizedLlama} takes the merged integer
 * layers of a QAT method plus copies of the model's dense parts (embedding, norms, head);
 * {@link #dequantized} turns any {@link QuantizedLlama} back into a dense model whose linears hold the
 * dequantized weights, so every method is scored by the same validation code on exactly what its checkpoint holds.
 */
public final class QatExport {
    private QatExport() {}

    /**
     * A quantized model from {@code model}'s embedding, norms and head (copied, F32) and {@code linears}, one
     * per projection path ({@code model.layers.N.self_attn.q_proj}, ...), which the result takes over. On error
     * every tensor of {@code linears} is closed.
     */
    public static QuantizedLlama toQuantizedLlama(LlamaForCausalLM model, Map<String, ? extends QuantizedTensor> linears) {
        LlamaConfig c = model.config();
        int L = c.numHiddenLayers();
        Map<String, Tensor> sd = model.stateDict();
        List<Tensor> made = new ArrayList<>();
        LinearWeight[][] lin = new LinearWeight[L][7];
        try {
            for (String path : linears.keySet())
                if (!model.projectionPaths().contains(path))
                    throw new IllegalArgumentException("'" + path + "' is not a projection of this model (expected e.g. model.layers.0.self_attn.q_proj)");
            for (int l = 0; l < L; l++)
                for (int s = 0; s < 7; s++) {
                    String name = QuantizedLlama.linearName(l, s);
                    QuantizedTensor q = linears.get(name);
                    if (q == null) throw new IllegalArgumentException("no quantized layer for " + name);
                    lin[l][s] = new LinearWeight.Packed(q);
                }
            java.util.function.Function<String, Tensor> copy = n -> {
                Tensor t = sd.get(n);
                if (t == null) throw new IllegalStateException("model has no tensor '" + n + "'");
                Tensor out = t.to(io.lowbit.tensor.DType.F32).label(MemoryCategory.WEIGHTS); // always a new tensor
                made.add(out);
                return out;
            };
            Tensor emb = copy.apply("model.embed_tokens.weight");
            Tensor[] an = new Tensor[L], fn = new Tensor[L];
            for (int l = 0; l < L; l++) {
                an[l] = copy.apply("model.layers." + l + ".input_layernorm.weight");
                fn[l] = copy.apply("model.layers." + l + ".post_attention_layernorm.weight");
            }
            Tensor norm = copy.apply("model.norm.weight");
            Tensor head = c.tieWordEmbeddings() ? emb : copy.apply("lm_head.weight");
            return new QuantizedLlama(c, RopeLayout.HALF, emb, an, fn, lin, norm, head, true);
        } catch (RuntimeException e) {
            for (Tensor t : made) t.close();
            for (QuantizedTensor q : linears.values()) q.close();
            throw e;
        }
    }

    /** A dense trainable model whose projections are {@code q}'s dequantized weights (the caller closes it). */
    public static LlamaForCausalLM dequantized(QuantizedLlama q) {
        LlamaConfig c = q.config();
        List<Tensor> made = new ArrayList<>();
        try {
            List<LlamaWeights.Layer> layers = new ArrayList<>();
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                Tensor[] w = new Tensor[7];
                for (int s = 0; s < 7; s++) {
                    w[s] = switch (q.linear(l, s)) {
                        case LinearWeight.Packed p -> p.q().dequantize();
                        case LinearWeight.Dense d -> d.w().copy().label(MemoryCategory.WEIGHTS);
                    };
                    made.add(w[s]);
                }
                layers.add(new LlamaWeights.Layer(q.attnNorm(l), w[QuantizedLlama.Q], w[QuantizedLlama.K], w[QuantizedLlama.V], w[QuantizedLlama.O],
                        q.ffnNorm(l), w[QuantizedLlama.GATE], w[QuantizedLlama.DOWN], w[QuantizedLlama.UP]));
            }
            // the record only borrows q's dense tensors and our dequantized ones: it is not closed, `made` is
            LlamaWeights weights = new LlamaWeights(c, q.ropeLayout(), q.tokEmbeddings(), layers, q.norm(), q.lmHead());
            return LlamaForCausalLM.fromWeights(weights);
        } finally {
            for (Tensor t : made) t.close();
        }
    }
}
