package io.lowbit.models.nn;

import io.lowbit.autograd.Checkpoint;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Embedding;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.ModuleList;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.ops.RopeTable;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.io.HfCheckpoint;
import io.lowbit.models.io.QkPermutation;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A trainable LLaMA decoder with a language-model head (Hugging Face's {@code LlamaForCausalLM}, Touvron et al.
 * 2023): token embedding, {@code num_hidden_layers} pre-norm blocks ({@link LlamaDecoderLayer}), a final
 * RMSNorm (Zhang &amp; Sennrich 2019) and the LM head (the embedding matrix when tied). Its state-dict keys are
 * exactly HF's tensor names: {@code model.embed_tokens.weight}, {@code model.layers.N.self_attn.{q,k,v,o}_proj.weight},
 * {@code model.layers.N.mlp.{gate,up,down}_proj.weight}, {@code model.layers.N.{input,post_attention}_layernorm.weight},
 * {@code model.norm.weight} and {@code lm_head.weight} (absent when tied). Rotary embedding uses HF's
 * rotate-half pairing, so HF checkpoints load without permutation; llama2.c (interleaved) weights are permuted
 * on the way in ({@link QkPermutation}).
 *
 * <p>Initialization is seeded and PyTorch/HF-like: every linear and the embedding N(0, 0.02²)
 * ({@code initializer_range}), every RMSNorm gain 1. Each tensor draws from its own stream
 * {@code Rng(seed).fork(name)}, so the values do not depend on construction order.
 *
 * <p>With {@link #gradientCheckpointing(boolean)} each decoder block runs under
 * {@link Checkpoint#checkpoint}: only block inputs stay alive between forward and backward.
 */
public final class LlamaForCausalLM extends Module {
    /** HF's {@code initializer_range}: the standard deviation of linear and embedding weights at initialization. */
    public static final double INITIALIZER_RANGE = 0.02;

    private final LlamaConfig config;
    private final DType dtype;
    private final RopeTable rope;
    private final Decoder model;
    private Layer lmHead; // null when tied; non-final so a method may replace it
    private boolean checkpointing;

    /** The {@code model.*} subtree: embedding, blocks, final norm (HF's {@code LlamaModel}). */
    static final class Decoder extends Module {
        final Embedding embedTokens;
        final ModuleList<LlamaDecoderLayer> layers;
        final RMSNorm norm;

        Decoder(Embedding e, ModuleList<LlamaDecoderLayer> layers, RMSNorm norm) {
            embedTokens = registerModule("embed_tokens", e);
            this.layers = registerModule("layers", layers);
            this.norm = registerModule("norm", norm);
        }
    }

    /** An F32 model initialized from {@code seed}. */
    public LlamaForCausalLM(LlamaConfig config, long seed) {
        this(config, seed, DType.F32);
    }

    /** A model of the given dtype (F32, or F64 for gradient checks) initialized from {@code seed}. */
    public LlamaForCausalLM(LlamaConfig config, long seed, DType dtype) {
        this(config, new Rng(seed), dtype);
    }

    private LlamaForCausalLM(LlamaConfig c, Rng rng, DType dtype) {
        if (c.ropeScaling() != null)
            throw new IllegalArgumentException("LlamaForCausalLM: rope_scaling " + c.ropeScaling() + " is not supported for training");
        if (dtype != DType.F32 && dtype != DType.F64)
            throw new IllegalArgumentException("LlamaForCausalLM trains in F32 or F64, got " + dtype);
        this.config = c;
        this.dtype = dtype;
        this.rope = RopeTable.float32Angles(c.headDim(), c.maxPositionEmbeddings(), c.ropeTheta(), RopeTable.Layout.HALF);
        int d = c.hiddenSize(), f = c.intermediateSize();
        Embedding emb = new Embedding(c.vocabSize(), d, rng.fork("model.embed_tokens.weight"), dtype); // N(0, 1) ...
        emb.weight().data().mulInPlace(INITIALIZER_RANGE); // ... scaled to N(0, 0.02²)
        ModuleList<LlamaDecoderLayer> layers = new ModuleList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            LlamaAttention attn = new LlamaAttention(c, rope,
                    linear(rng, p + "self_attn.q_proj.weight", c.qDim(), d),
                    linear(rng, p + "self_attn.k_proj.weight", c.kvDim(), d),
                    linear(rng, p + "self_attn.v_proj.weight", c.kvDim(), d),
                    linear(rng, p + "self_attn.o_proj.weight", d, c.qDim()));
            LlamaMlp mlp = new LlamaMlp(linear(rng, p + "mlp.gate_proj.weight", f, d), linear(rng, p + "mlp.up_proj.weight", f, d),
                    linear(rng, p + "mlp.down_proj.weight", d, f));
            layers.add(new LlamaDecoderLayer(new RMSNorm(d, c.rmsNormEps(), dtype), attn, new RMSNorm(d, c.rmsNormEps(), dtype), mlp));
        }
        model = registerModule("model", new Decoder(emb, layers, new RMSNorm(d, c.rmsNormEps(), dtype)));
        lmHead = c.tieWordEmbeddings() ? null : registerModule("lm_head", linear(rng, "lm_head.weight", c.vocabSize(), d));
    }

    private Linear linear(Rng rng, String name, int out, int in) {
        return new Linear(Tensor.normal(dtype, rng.fork(name), 0, INITIALIZER_RANGE, out, in), null);
    }

    /** The shape. */
    public LlamaConfig config() {
        return config;
    }

    /** Parameter dtype (F32 or F64). */
    public DType dtype() {
        return dtype;
    }

    /** Turns per-block activation checkpointing on or off; returns this. */
    public LlamaForCausalLM gradientCheckpointing(boolean on) {
        checkpointing = on;
        return this;
    }

    /** True when each decoder block is checkpointed. */
    public boolean gradientCheckpointing() {
        return checkpointing;
    }

    /** The token embedding [vocab, d] (also the LM head when tied). */
    public Parameter embedTokens() {
        return model.embedTokens.weight();
    }

    /** The decoder blocks (after any replacement of their projections). */
    public List<LlamaDecoderLayer> layers() {
        List<LlamaDecoderLayer> out = new ArrayList<>();
        for (LlamaDecoderLayer l : model.layers) out.add(l);
        return out;
    }

    /** The projections inside the decoder blocks, in order: the paths training methods replace. */
    public static final java.util.List<String> PROJECTIONS = java.util.List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /**
     * Dotted paths of every block projection ({@code model.layers.N.self_attn.q_proj}, ...), for
     * {@link Module#replace}; the embedding, norms and LM head are not included.
     */
    public List<String> projectionPaths() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) for (String p : PROJECTIONS) out.add("model.layers." + i + "." + p);
        return out;
    }

    // ------------------------------------------------------------------ forward

    /** Logits [B, T, vocab] for I32 token ids [B, T]; token t sits at position t. */
    public Var forward(Tensor ids) {
        if (ids.dim() != 2 || ids.dtype() != DType.I32)
            throw new IllegalArgumentException("LlamaForCausalLM.forward expects I32 ids [batch, seq], got " + ids.dtype() + Arrays.toString(ids.shape()));
        if (ids.size(1) > config.maxPositionEmbeddings())
            throw new IllegalArgumentException("sequence of " + ids.size(1) + " tokens exceeds max_position_embeddings " + config.maxPositionEmbeddings());
        Var x = model.embedTokens.forward(ids);
        for (LlamaDecoderLayer layer : model.layers)
            x = checkpointing ? Checkpoint.checkpoint(in -> layer.forward(in[0]), x) : layer.forward(x);
        Var h = model.norm.forward(x);
        return lmHead == null ? F.linear(h, model.embedTokens.weight()) : lmHead.forward(h);
    }

    /** Mean next-token cross-entropy of the logits for {@code ids} [B, T] against {@code targets} [B, T] (−100 = ignored). */
    public Var loss(Tensor ids, Tensor targets) {
        if (!Arrays.equals(ids.shape(), targets.shape()))
            throw new IllegalArgumentException("ids " + Arrays.toString(ids.shape()) + " and targets " + Arrays.toString(targets.shape()) + " differ in shape");
        return F.crossEntropy(forward(ids), targets, -100);
    }

    // ------------------------------------------------------------------ conversion

    /**
     * A model holding a copy of {@code w}'s weights (F32). Interleaved (llama2.c) q/k rows are permuted to the
     * rotate-half layout this model computes in, so logits are those of the inference model over {@code w}.
     */
    public static LlamaForCausalLM fromWeights(LlamaWeights w) {
        LlamaConfig c = w.config();
        LlamaForCausalLM m = new LlamaForCausalLM(c, new Rng(0), DType.F32);
        List<Tensor> permuted = new ArrayList<>();
        try {
            Map<String, Tensor> sd = io.lowbit.models.io.HfCheckpoint.hfStateDict(w, permuted);
            m.loadStateDict(sd);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        } finally {
            for (Tensor t : permuted) t.close();
        }
    }

    /** Loads a Hugging Face checkpoint directory or a llama2.c {@code .bin} file ({@link Checkpoints#load}). */
    public static LlamaForCausalLM load(Path checkpoint) throws IOException {
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            return fromWeights(w);
        }
    }

    /**
     * The weights as an inference {@link LlamaWeights} (rotate-half layout) for generation and perplexity with
     * {@link io.lowbit.models.llama.LlamaModel}. With {@code copy} the tensors are new (category WEIGHTS) and the
     * caller closes the record; without, they are views of this model's parameters, valid while the model lives
     * and unchanged by training only until the next optimizer step (closing the record frees nothing).
     * Needs an F32 model whose projections still hold plain {@code weight} tensors (merge adapters first).
     */
    public LlamaWeights toWeights(boolean copy) {
        if (dtype != DType.F32) throw new IllegalStateException("inference weights are F32; this model is " + dtype);
        Map<String, Tensor> sd = stateDict();
        List<String> extra = new ArrayList<>(sd.keySet());
        extra.removeAll(hfNames());
        if (!extra.isEmpty())
            throw new IllegalStateException("model holds tensors beyond the Hugging Face names " + extra.subList(0, Math.min(4, extra.size()))
                    + (extra.size() > 4 ? " ..." : "") + "; merge the method's layers into dense weights before exporting");
        List<Tensor> made = new ArrayList<>();
        try {
            java.util.function.Function<String, Tensor> get = name -> {
                Tensor t = sd.get(name);
                if (t == null)
                    throw new IllegalStateException("model has no tensor '" + name + "' (a replaced layer must be merged back into a dense weight first)");
                Tensor out = copy ? t.copy().label(MemoryCategory.WEIGHTS) : t.view(t.shape());
                if (copy) made.add(out);
                return out;
            };
            Tensor emb = get.apply("model.embed_tokens.weight");
            List<LlamaWeights.Layer> layers = new ArrayList<>();
            for (int i = 0; i < config.numHiddenLayers(); i++) {
                String p = "model.layers." + i + ".";
                layers.add(new LlamaWeights.Layer(get.apply(p + "input_layernorm.weight"), get.apply(p + "self_attn.q_proj.weight"),
                        get.apply(p + "self_attn.k_proj.weight"), get.apply(p + "self_attn.v_proj.weight"),
                        get.apply(p + "self_attn.o_proj.weight"), get.apply(p + "post_attention_layernorm.weight"),
                        get.apply(p + "mlp.gate_proj.weight"), get.apply(p + "mlp.down_proj.weight"), get.apply(p + "mlp.up_proj.weight")));
            }
            Tensor norm = get.apply("model.norm.weight");
            Tensor head = config.tieWordEmbeddings() ? emb : get.apply("lm_head.weight");
            return new LlamaWeights(config, RopeLayout.HALF, emb, layers, norm, head);
        } catch (RuntimeException e) {
            for (Tensor t : made) t.close();
            throw e;
        }
    }

    /** The Hugging Face tensor names of this config, in checkpoint order ({@code lm_head.weight} only when untied). */
    public List<String> hfNames() {
        List<String> names = new ArrayList<>(List.of("model.embed_tokens.weight"));
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            names.add(p + "input_layernorm.weight");
            for (String proj : PROJECTIONS) names.add(p + proj + ".weight");
            names.add(p + "post_attention_layernorm.weight");
        }
        names.add("model.norm.weight");
        if (!config.tieWordEmbeddings()) names.add("lm_head.weight");
        return names;
    }

    /**
     * Writes {@code dir/model.safetensors} and {@code dir/config.json} in Hugging Face's format
     * ({@link HfCheckpoint#write}, each file atomically) without copying the weights.
     */
    public void save(Path dir) throws IOException {
        HfCheckpoint.write(dir, toWeights(false)); // views: nothing to close
    }
}
