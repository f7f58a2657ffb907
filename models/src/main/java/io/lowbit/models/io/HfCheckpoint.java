package io.lowbit.models.io;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Half;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.Safetensors;
import io.lowbit.tensor.io.SafetensorsFile;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face LLaMA checkpoint directory: {@code config.json} plus {@code model.safetensors} (or shards
 * with {@code model.safetensors.index.json}) using {@code LlamaForCausalLM}'s tensor names. Its q/k rows are in
 * the rotate-half RoPE layout ({@link RopeLayout#HALF}); writing interleaved weights permutes them
 * ({@link QkPermutation}).
 */
public final class HfCheckpoint {
    private HfCheckpoint() {}

    /** True if {@code dir} looks like a Hugging Face checkpoint (a directory with config.json). */
    public static boolean isCheckpointDir(Path dir) {
        return Files.isDirectory(dir) && Files.exists(dir.resolve("config.json"));
    }

    /** Loads every tensor as an owned F32 copy (BF16/F16 widened exactly); the layout stays rotate-half. */
    public static LlamaWeights read(Path dir) throws IOException {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.exists(cfgFile)) throw new IOException(dir + ": no config.json (not a Hugging Face checkpoint directory)");
        LlamaConfig c = LlamaConfig.read(cfgFile);
        List<Tensor> made = new ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(dir)) {
            int d = c.hiddenSize(), f = c.intermediateSize(), q = c.qDim(), kv = c.kvDim();
            Tensor emb = load(dir, st, made, "model.embed_tokens.weight", c.vocabSize(), d);
            List<LlamaWeights.Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                String p = "model.layers." + i + ".";
                layers.add(new LlamaWeights.Layer(
                        load(dir, st, made, p + "input_layernorm.weight", d),
                        load(dir, st, made, p + "self_attn.q_proj.weight", q, d),
                        load(dir, st, made, p + "self_attn.k_proj.weight", kv, d),
                        load(dir, st, made, p + "self_attn.v_proj.weight", kv, d),
                        load(dir, st, made, p + "self_attn.o_proj.weight", d, q),
                        load(dir, st, made, p + "post_attention_layernorm.weight", d),
                        load(dir, st, made, p + "mlp.gate_proj.weight", f, d),
                        load(dir, st, made, p + "mlp.down_proj.weight", d, f),
                        load(dir, st, made, p + "mlp.up_proj.weight", f, d)));
            }
            Tensor norm = load(dir, st, made, "model.norm.weight", d);
            Tensor head;
            if (c.tieWordEmbeddings()) head = emb;
            else if (st.contains("lm_head.weight")) head = load(dir, st, made, "lm_head.weight", c.vocabSize(), d);
            else throw new IOException(dir + ": config.json has tie_word_embeddings = false but there is no lm_head.weight");
            return new LlamaWeights(c, RopeLayout.HALF, emb, layers, norm, head);
        } catch (IOException | RuntimeException e) {
            for (Tensor t : made) t.close();
            throw e;
        }
    }

    private static Tensor load(Path dir, SafetensorsFile st, List<Tensor> made, String name, int... shape) {
        if (!st.contains(name)) throw new IllegalArgumentException(dir + ": checkpoint has no tensor '" + name + "'");
        Safetensors.Entry e = st.entry(name);
        if (!Arrays.equals(e.shape(), shape))
            throw new IllegalArgumentException(dir + ": tensor '" + name + "' has shape " + Arrays.toString(e.shape()) + ", config.json implies "
                    + Arrays.toString(shape));
        if (!e.dtype().floating) throw new IllegalArgumentException(dir + ": tensor '" + name + "' is " + e.dtype() + ", expected a float type");
        Tensor mapped = st.tensor(name);
        Tensor out = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, shape);
        made.add(out);
        widen(mapped, out);
        return out;
    }

    /** Copies a contiguous F32/BF16/F16/F64 tensor into an F32 one of the same size (16-bit floats widen exactly). */
    static void widen(Tensor src, Tensor dst) {
        MemorySegment in = src.segment(), out = dst.segment();
        long n = dst.numel(), base = src.byteOffset();
        switch (src.dtype()) {
            case F32 -> MemorySegment.copy(in, base, out, 0, n * 4);
            case BF16 -> {
                for (long i = 0; i < n; i++)
                    out.setAtIndex(ValueLayout.JAVA_FLOAT, i, Half.fromBF16(in.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2 * i)));
            }
            case F16 -> {
                for (long i = 0; i < n; i++)
                    out.setAtIndex(ValueLayout.JAVA_FLOAT, i, Half.fromF16(in.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2 * i)));
            }
            default -> dst.copyFrom(src);
        }
    }

    /**
     * {@code w}'s tensors under their Hugging Face names (rotate-half q/k layout). Interleaved (Meta/llama2.c)
     * q/k weights are permuted into new tensors, which are added to {@code permuted} for the caller to close;
     * every other entry views {@code w}'s own tensors.
     */
    public static Map<String, Tensor> hfStateDict(LlamaWeights w, List<Tensor> permuted) {
        LlamaConfig c = w.config();
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("model.embed_tokens.weight", w.tokEmbeddings());
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            LlamaWeights.Layer l = w.layers().get(i);
            String p = "model.layers." + i + ".";
            Tensor wq = l.wq(), wk = l.wk();
            if (w.ropeLayout() == RopeLayout.INTERLEAVED) {
                permuted.add(wq = QkPermutation.metaToHf(l.wq(), c.numAttentionHeads()));
                permuted.add(wk = QkPermutation.metaToHf(l.wk(), c.numKeyValueHeads()));
            }
            named.put(p + "input_layernorm.weight", l.attnNorm());
            named.put(p + "self_attn.q_proj.weight", wq);
            named.put(p + "self_attn.k_proj.weight", wk);
            named.put(p + "self_attn.v_proj.weight", l.wv());
            named.put(p + "self_attn.o_proj.weight", l.wo());
            named.put(p + "post_attention_layernorm.weight", l.ffnNorm());
            named.put(p + "mlp.gate_proj.weight", l.w1());
            named.put(p + "mlp.up_proj.weight", l.w3());
            named.put(p + "mlp.down_proj.weight", l.w2());
        }
        named.put("model.norm.weight", w.norm());
        if (!c.tieWordEmbeddings()) named.put("lm_head.weight", w.lmHead());
        return named;
    }

    /**
     * Writes {@code w} as {@code dir/model.safetensors} + {@code dir/config.json} (each atomically), F32, with
     * q/k rows in the rotate-half layout. A tied head is stored once (as the embedding).
     */
    public static void write(Path dir, LlamaWeights w) throws IOException {
        Files.createDirectories(dir);
        LlamaConfig c = w.config();
        List<Tensor> permuted = new ArrayList<>();
        try {
            Map<String, Tensor> named = hfStateDict(w, permuted);
            Safetensors.write(dir.resolve("model.safetensors"), named, Map.of("format", "pt"));
            c.write(dir.resolve("config.json"));
        } finally {
            for (Tensor t : permuted) t.close();
        }
    }
}
