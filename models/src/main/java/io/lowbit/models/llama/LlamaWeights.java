package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The parameters of a LLaMA decoder as contiguous F32 tensors (category WEIGHTS), matrices stored
 * [out, in] like {@code nn.Linear.weight}. Closing this closes every tensor.
 *
 * @param config         the shape
 * @param ropeLayout     which RoPE pairing the q/k projection rows were trained for
 * @param tokEmbeddings  [vocab, d]
 * @param layers         the decoder blocks
 * @param norm           final RMSNorm gain [d]
 * @param lmHead         [vocab, d]; the same tensor as {@code tokEmbeddings} when tied
 */
public record LlamaWeights(LlamaConfig config, RopeLayout ropeLayout, Tensor tokEmbeddings, List<Layer> layers, Tensor norm,
                           Tensor lmHead) implements DecoderWeights, AutoCloseable {

    /**
     * One decoder block.
     *
     * @param attnNorm RMSNorm gain before attention [d]
     * @param wq       [heads·head_dim, d]
     * @param wk       [kv_heads·head_dim, d]
     * @param wv       [kv_heads·head_dim, d]
     * @param wo       [d, heads·head_dim]
     * @param ffnNorm  RMSNorm gain before the MLP [d]
     * @param w1       gate projection [ffn, d]
     * @param w2       down projection [d, ffn]
     * @param w3       up projection [ffn, d]
     */
    public record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor w1, Tensor w2,
                        Tensor w3) {
        /** The matrix of linear {@code slot} ({@link DecoderWeights#LINEARS} order: q, k, v, o, gate, up, down). */
        public Tensor linear(int slot) {
            return switch (slot) {
                case DecoderWeights.Q -> wq;
                case DecoderWeights.K -> wk;
                case DecoderWeights.V -> wv;
                case DecoderWeights.O -> wo;
                case DecoderWeights.GATE -> w1;
                case DecoderWeights.UP -> w3;
                case DecoderWeights.DOWN -> w2;
                default -> throw new IllegalArgumentException("linear slot " + slot + " outside [0, 7)");
            };
        }

        List<Tensor> all() {
            return List.of(attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3);
        }
    }

    public LlamaWeights {
        layers = List.copyOf(layers);
        LlamaConfig c = config;
        if (layers.size() != c.numHiddenLayers())
            throw new IllegalArgumentException(layers.size() + " layers given for a config with " + c.numHiddenLayers());
        check("embed_tokens", tokEmbeddings, c.vocabSize(), c.hiddenSize());
        check("norm", norm, c.hiddenSize());
        check("lm_head", lmHead, c.vocabSize(), c.hiddenSize());
        if (c.tieWordEmbeddings() && lmHead != tokEmbeddings)
            throw new IllegalArgumentException("config ties word embeddings but lm_head is a separate tensor");
        int d = c.hiddenSize(), f = c.intermediateSize();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            String p = "layers." + i + ".";
            check(p + "input_layernorm", l.attnNorm, d);
            check(p + "q_proj", l.wq, c.qDim(), d);
            check(p + "k_proj", l.wk, c.kvDim(), d);
            check(p + "v_proj", l.wv, c.kvDim(), d);
            check(p + "o_proj", l.wo, d, c.qDim());
            check(p + "post_attention_layernorm", l.ffnNorm, d);
            check(p + "gate_proj", l.w1, f, d);
            check(p + "down_proj", l.w2, d, f);
            check(p + "up_proj", l.w3, f, d);
        }
    }

    private static void check(String name, Tensor t, int... shape) {
        if (t.dtype() != DType.F32 || !Arrays.equals(t.shape(), shape) || !t.isContiguous() || t.offset() != 0)
            throw new IllegalArgumentException("weight " + name + " must be contiguous F32" + Arrays.toString(shape) + ", got "
                    + t.dtype() + Arrays.toString(t.shape()) + (t.isContiguous() ? "" : " (not contiguous)"));
    }

    @Override public Tensor attnNorm(int l) { return layers.get(l).attnNorm(); }
    @Override public Tensor ffnNorm(int l) { return layers.get(l).ffnNorm(); }

    @Override
    public Linear linear(int l, int slot) {
        return new Linear.Dense(layers.get(l).linear(slot));
    }

    /** Every tensor once (the tied head is not repeated), in checkpoint order. */
    public List<Tensor> tensors() {
        List<Tensor> all = new ArrayList<>();
        all.add(tokEmbeddings);
        for (Layer l : layers) all.addAll(l.all());
        all.add(norm);
        if (lmHead != tokEmbeddings) all.add(lmHead);
        return all;
    }

    /**
     * Random weights for tests and benchmarks: matrices N(0, 0.02²) (seeded), norm gains 1 (plus small noise
     * so a wrong norm placement shows up).
     */
    public static LlamaWeights random(LlamaConfig c, RopeLayout layout, long seed) {
        Rng rng = new Rng(seed);
        int d = c.hiddenSize(), f = c.intermediateSize();
        Tensor emb = normal(rng, 0.02, c.vocabSize(), d);
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++)
            layers.add(new Layer(gain(rng, d), normal(rng, 0.02, c.qDim(), d), normal(rng, 0.02, c.kvDim(), d),
                    normal(rng, 0.02, c.kvDim(), d), normal(rng, 0.02, d, c.qDim()), gain(rng, d),
                    normal(rng, 0.02, f, d), normal(rng, 0.02, d, f), normal(rng, 0.02, f, d)));
        Tensor norm = gain(rng, d);
        Tensor head = c.tieWordEmbeddings() ? emb : normal(rng, 0.02, c.vocabSize(), d);
        return new LlamaWeights(c, layout, emb, layers, norm, head);
    }

    private static Tensor normal(Rng rng, double std, int... shape) {
        Tensor t = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, shape);
        long start = rng.advance(t.numel());
        java.lang.foreign.MemorySegment s = t.segment();
        for (long i = 0, n = t.numel(); i < n; i++)
            s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) (std * rng.normalAt(start + i)));
        return t;
    }

    private static Tensor gain(Rng rng, int d) {
        Tensor t = normal(rng, 0.1, d);
        for (int i = 0; i < d; i++) t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i,
                1f + t.segment().getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i));
        return t;
    }

    @Override
    public void close() {
        for (Tensor t : tensors()) t.close();
    }
}
