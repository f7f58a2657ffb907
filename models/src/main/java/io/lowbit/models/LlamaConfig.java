package io.lowbit.models;

import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a LLaMA-family decoder, named as in Hugging Face's {@code config.json}.
 *
 * @param hiddenSize            model width d
 * @param intermediateSize      SwiGLU hidden width
 * @param numAttentionHeads     query heads
 * @param numKeyValueHeads      key/value heads (grouped-query attention; divides the query heads)
 * @param numHiddenLayers       decoder blocks
 * @param headDim               width of one head (usually d / heads)
 * @param rmsNormEps            ε in RMSNorm
 * @param ropeTheta             RoPE base
 * @param ropeScaling           optional long-context frequency scaling (null = none)
 * @param vocabSize             vocabulary size
 * @param maxPositionEmbeddings longest sequence (KV cache length)
 * @param tieWordEmbeddings     the LM head reuses the token embedding matrix
 * @param slidingWindow         Mistral's attention window (0 = full causal attention)
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                          int numHiddenLayers, int headDim, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          int vocabSize, int maxPositionEmbeddings, boolean tieWordEmbeddings, int slidingWindow) {

    /** Largest value we accept for any size field (guards against absurd or hostile configs). */
    public static final int MAX_DIM = 1 << 20;

    public LlamaConfig {
        validate(new Fields(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, vocabSize, maxPositionEmbeddings, slidingWindow), "config");
    }

    private record Fields(int hiddenSize, int intermediateSize, int heads, int kvHeads, int layers, int headDim,
                          double eps, double theta, int vocab, int maxPos, int window) {}

    /** A config with {@code head_dim = hidden / heads}, no rope scaling and no sliding window. */
    public static LlamaConfig of(int hidden, int intermediate, int heads, int kvHeads, int layers, int vocab, int maxPos,
                                 double eps, double theta, boolean tied) {
        if (heads <= 0) throw new IllegalArgumentException("config: num_attention_heads must be positive, got " + heads);
        return new LlamaConfig(hidden, intermediate, heads, kvHeads, layers, hidden / heads, eps, theta, null, vocab, maxPos,
                tied, 0);
    }

    /** Width of all query heads together (heads × head_dim). */
    public int qDim() {
        return numAttentionHeads * headDim;
    }

    /** Width of all key (or value) heads together (kv_heads × head_dim). */
    public int kvDim() {
        return numKeyValueHeads * headDim;
    }

    /** Number of parameters (embeddings, blocks, final norm and an untied head). */
    public long parameterCount() {
        long d = hiddenSize, block = 2 * d + d * qDim() + 2 * d * kvDim() + (long) qDim() * d + 3 * d * intermediateSize;
        return (long) vocabSize * d * (tieWordEmbeddings ? 1 : 2) + numHiddenLayers * block + d;
    }

    public LlamaConfig withMaxPositionEmbeddings(int n) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, ropeScaling, vocabSize, n, tieWordEmbeddings, slidingWindow);
    }

    public LlamaConfig withVocabSize(int n) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, ropeScaling, n, maxPositionEmbeddings, tieWordEmbeddings, slidingWindow);
    }

    public LlamaConfig withTieWordEmbeddings(boolean tied) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, ropeScaling, vocabSize, maxPositionEmbeddings, tied, slidingWindow);
    }

    public LlamaConfig withSlidingWindow(int window) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, ropeScaling, vocabSize, maxPositionEmbeddings, tieWordEmbeddings, window);
    }

    public LlamaConfig withRopeScaling(RopeScaling scaling) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers, headDim,
                rmsNormEps, ropeTheta, scaling, vocabSize, maxPositionEmbeddings, tieWordEmbeddings, slidingWindow);
    }

    private static void validate(Fields f, String src) {
        positive(src, "hidden_size", f.hiddenSize);
        positive(src, "intermediate_size", f.intermediateSize);
        positive(src, "num_attention_heads", f.heads);
        positive(src, "num_key_value_heads", f.kvHeads);
        positive(src, "num_hidden_layers", f.layers);
        positive(src, "head_dim", f.headDim);
        positive(src, "vocab_size", f.vocab);
        positive(src, "max_position_embeddings", f.maxPos);
        if (f.kvHeads > f.heads || f.heads % f.kvHeads != 0)
            throw new IllegalArgumentException(src + ": num_key_value_heads (" + f.kvHeads + ") must divide num_attention_heads ("
                    + f.heads + ")");
        if (f.headDim % 2 != 0)
            throw new IllegalArgumentException(src + ": head_dim (" + f.headDim + ") must be even for rotary embeddings");
        if (!(f.eps > 0) || f.eps > 1)
            throw new IllegalArgumentException(src + ": rms_norm_eps must be in (0, 1], got " + f.eps);
        if (!(f.theta > 1) || Double.isInfinite(f.theta))
            throw new IllegalArgumentException(src + ": rope_theta must be a finite number > 1, got " + f.theta);
        if (f.window < 0) throw new IllegalArgumentException(src + ": sliding_window must be >= 0 (0 = none), got " + f.window);
    }

    private static void positive(String src, String key, long v) {
        if (v <= 0) throw new IllegalArgumentException(src + ": " + key + " must be positive, got " + v);
        if (v > MAX_DIM) throw new IllegalArgumentException(src + ": " + key + " = " + v + " is absurdly large (limit " + MAX_DIM + ")");
    }

    // ------------------------------------------------------------------ config.json

    /** Reads a Hugging Face {@code config.json}; errors name the file and the key. */
    public static LlamaConfig read(Path file) throws IOException {
        return fromJson(Json.parseObject(Files.readString(file, StandardCharsets.UTF_8), file.toString()), file.toString());
    }

    /** Builds a config from a parsed {@code config.json} object. */
    public static LlamaConfig fromJson(Map<String, Object> m, String src) {
        Object act = m.get("hidden_act");
        if (act != null && !"silu".equals(act))
            throw new IllegalArgumentException(src + ": key \"hidden_act\" = " + act + " is not supported (only silu)");
        int hidden = intKey(m, "hidden_size", null, src);
        int heads = intKey(m, "num_attention_heads", null, src);
        if (heads <= 0) throw new IllegalArgumentException(src + ": num_attention_heads must be positive, got " + heads);
        int headDim;
        if (m.get("head_dim") != null) headDim = intKey(m, "head_dim", null, src);
        else {
            if (hidden % heads != 0)
                throw new IllegalArgumentException(src + ": num_attention_heads (" + heads + ") does not divide hidden_size ("
                        + hidden + ") and no head_dim is given");
            headDim = hidden / heads;
        }
        Object sw = m.get("sliding_window");
        int window = sw == null ? 0 : intKey(m, "sliding_window", null, src);
        Object rs = m.get("rope_scaling");
        RopeScaling scaling = rs == null ? null : RopeScaling.fromJson(rs, src);
        Object tied = m.getOrDefault("tie_word_embeddings", Boolean.FALSE);
        if (!(tied instanceof Boolean tie))
            throw new IllegalArgumentException(src + ": key \"tie_word_embeddings\" must be true or false, got " + tied);
        Fields f = new Fields(hidden, intKey(m, "intermediate_size", null, src), heads,
                intKey(m, "num_key_value_heads", heads, src), intKey(m, "num_hidden_layers", null, src), headDim,
                Json.getDouble(m, "rms_norm_eps", 1e-6, src), Json.getDouble(m, "rope_theta", 10000.0, src),
                intKey(m, "vocab_size", null, src), intKey(m, "max_position_embeddings", 2048, src), window);
        validate(f, src);
        return new LlamaConfig(f.hiddenSize, f.intermediateSize, f.heads, f.kvHeads, f.layers, f.headDim, f.eps, f.theta,
                scaling, f.vocab, f.maxPos, tie, f.window);
    }

    private static int intKey(Map<String, Object> m, String key, Integer dflt, String src) {
        long v = dflt == null ? Json.getLong(m, key, src) : Json.getLong(m, key, dflt, src);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
            throw new IllegalArgumentException(src + ": key \"" + key + "\" = " + v + " is out of range");
        return (int) v;
    }

    /** This config as a Hugging Face {@code config.json} object ({@code LlamaForCausalLM}). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", java.util.List.of(slidingWindow > 0 ? "MistralForCausalLM" : "LlamaForCausalLM"));
        m.put("model_type", slidingWindow > 0 ? "mistral" : "llama");
        m.put("hidden_size", hiddenSize);
        m.put("intermediate_size", intermediateSize);
        m.put("num_attention_heads", numAttentionHeads);
        m.put("num_key_value_heads", numKeyValueHeads);
        m.put("num_hidden_layers", numHiddenLayers);
        m.put("head_dim", headDim);
        m.put("hidden_act", "silu");
        m.put("rms_norm_eps", rmsNormEps);
        m.put("rope_theta", ropeTheta);
        m.put("rope_scaling", ropeScaling == null ? null : ropeScaling.toJson());
        m.put("vocab_size", vocabSize);
        m.put("max_position_embeddings", maxPositionEmbeddings);
        m.put("tie_word_embeddings", tieWordEmbeddings);
        m.put("sliding_window", slidingWindow > 0 ? slidingWindow : null);
        m.put("bos_token_id", 1);
        m.put("eos_token_id", 2);
        m.put("torch_dtype", "float32");
        return m;
    }

    /** Writes {@code config.json} atomically (temporary file in the same directory, then an atomic move). */
    public void write(Path file) throws IOException {
        AtomicFiles.writeString(file, Json.writePretty(toJson()));
    }
}
