package io.lowbit.models.quant;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.DecoderWeights;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A LLaMA decoder whose seven linears per block may each be dense or quantized; embeddings, norms and the
 * LM head stay dense F32 (as in GPTQ and QLoRA). Linear slot order is {@link #LINEARS} (Hugging Face names;
 * the slot constants Q … DOWN come from {@link DecoderWeights}). {@code llama.LlamaModel} runs it.
 * Closing closes every owned tensor.
 */
public final class QuantizedLlama implements DecoderWeights, AutoCloseable {
    private final LlamaConfig config;
    private final RopeLayout ropeLayout;
    private final Tensor tokEmbeddings, norm, lmHead;
    private final Tensor[] attnNorm, ffnNorm;
    private final LinearWeight[][] linears; // [layer][slot]
    private final boolean ownsDense;

    /**
     * A model from its parts. With {@code ownsDense} the embedding, norms and head are closed with the model
     * (the linears always are).
     */
    public QuantizedLlama(LlamaConfig config, RopeLayout ropeLayout, Tensor tokEmbeddings, Tensor[] attnNorm, Tensor[] ffnNorm,
                          LinearWeight[][] linears, Tensor norm, Tensor lmHead, boolean ownsDense) {
        int L = config.numHiddenLayers(), d = config.hiddenSize(), f = config.intermediateSize();
        if (attnNorm.length != L || ffnNorm.length != L || linears.length != L)
            throw new IllegalArgumentException("expected " + L + " layers of norms and linears, got " + attnNorm.length + "/" + ffnNorm.length + "/" + linears.length);
        int[][] shapes = {{config.qDim(), d}, {config.kvDim(), d}, {config.kvDim(), d}, {d, config.qDim()}, {f, d}, {f, d}, {d, f}};
        for (int l = 0; l < L; l++) {
            if (linears[l].length != 7) throw new IllegalArgumentException("layer " + l + " has " + linears[l].length + " linears, expected 7");
            for (int s = 0; s < 7; s++) {
                LinearWeight w = linears[l][s];
                if (w == null || w.rows() != shapes[s][0] || w.cols() != shapes[s][1])
                    throw new IllegalArgumentException("layers." + l + "." + LINEARS.get(s) + " must be " + Arrays.toString(shapes[s]) + ", got "
                            + (w == null ? "null" : "[" + w.rows() + ", " + w.cols() + "]"));
            }
        }
        this.config = config;
        this.ropeLayout = ropeLayout;
        this.tokEmbeddings = tokEmbeddings;
        this.attnNorm = attnNorm.clone();
        this.ffnNorm = ffnNorm.clone();
        this.linears = new LinearWeight[L][];
        for (int l = 0; l < L; l++) this.linears[l] = linears[l].clone();
        this.norm = norm;
        this.lmHead = lmHead;
        this.ownsDense = ownsDense;
    }

    /** A dense view of float weights: nothing is copied or owned (close {@code w} separately, after this). */
    public static QuantizedLlama dense(LlamaWeights w) {
        int L = w.config().numHiddenLayers();
        Tensor[] an = new Tensor[L], fn = new Tensor[L];
        LinearWeight[][] lin = new LinearWeight[L][];
        for (int l = 0; l < L; l++) {
            LlamaWeights.Layer b = w.layers().get(l);
            an[l] = b.attnNorm();
            fn[l] = b.ffnNorm();
            lin[l] = new LinearWeight[] {new LinearWeight.Dense(b.wq(), false), new LinearWeight.Dense(b.wk(), false),
                    new LinearWeight.Dense(b.wv(), false), new LinearWeight.Dense(b.wo(), false), new LinearWeight.Dense(b.w1(), false),
                    new LinearWeight.Dense(b.w3(), false), new LinearWeight.Dense(b.w2(), false)};
        }
        return new QuantizedLlama(w.config(), w.ropeLayout(), w.tokEmbeddings(), an, fn, lin, w.norm(), w.lmHead(), false);
    }

    /** Float weights as a model that takes ownership of every tensor of {@code w} (closing the model closes them). */
    public static QuantizedLlama owning(LlamaWeights w) {
        int L = w.config().numHiddenLayers();
        Tensor[] an = new Tensor[L], fn = new Tensor[L];
        LinearWeight[][] lin = new LinearWeight[L][7];
        for (int l = 0; l < L; l++) {
            LlamaWeights.Layer b = w.layers().get(l);
            an[l] = b.attnNorm();
            fn[l] = b.ffnNorm();
            for (int s = 0; s < 7; s++) lin[l][s] = new LinearWeight.Dense(b.linear(s), true);
        }
        return new QuantizedLlama(w.config(), w.ropeLayout(), w.tokEmbeddings(), an, fn, lin, w.norm(), w.lmHead(), true);
    }

    /**
     * Any checkpoint as a model: a quantized directory ({@link QuantizedCheckpoint}), a Hugging Face directory
     * or a llama2.c {@code .bin} file (float).
     */
    public static QuantizedLlama load(java.nio.file.Path path) throws java.io.IOException {
        if (QuantizedCheckpoint.isQuantized(path)) return QuantizedCheckpoint.read(path);
        return owning(io.lowbit.models.io.Checkpoints.load(path));
    }

    /** True when at least one linear is quantized. */
    public boolean isQuantized() {
        for (LinearWeight[] ls : linears) for (LinearWeight w : ls) if (w instanceof LinearWeight.Packed) return true;
        return false;
    }

    @Override public LlamaConfig config() { return config; }
    @Override public RopeLayout ropeLayout() { return ropeLayout; }
    @Override public Tensor tokEmbeddings() { return tokEmbeddings; }
    @Override public Tensor norm() { return norm; }
    @Override public Tensor lmHead() { return lmHead; }
    @Override public Tensor attnNorm(int l) { return attnNorm[l]; }
    @Override public Tensor ffnNorm(int l) { return ffnNorm[l]; }

    /** The weight of linear {@code slot} in layer {@code l}. */
    @Override
    public LinearWeight linear(int l, int slot) {
        return linears[l][slot];
    }

    /** Hugging Face name of a linear, e.g. {@code model.layers.3.self_attn.q_proj}. */
    public static String linearName(int l, int slot) {
        return "model.layers." + l + (slot <= O ? ".self_attn." : ".mlp.") + LINEARS.get(slot);
    }

    /** Replaces a linear (closing the old one) — how sequential calibration swaps in each quantized layer. */
    public void setLinear(int l, int slot, LinearWeight w) {
        LinearWeight old = linears[l][slot];
        if (w.rows() != old.rows() || w.cols() != old.cols())
            throw new IllegalArgumentException(linearName(l, slot) + ": replacement [" + w.rows() + ", " + w.cols() + "] does not match ["
                    + old.rows() + ", " + old.cols() + "]");
        linears[l][slot] = w;
        old.close();
    }

    /** Bytes of all linears (packed for quantized ones). */
    public long linearBytes() {
        long b = 0;
        for (LinearWeight[] ls : linears) for (LinearWeight w : ls) b += w.bytes();
        return b;
    }

    /** Every tensor (dense part) that this model owns. */
    List<Tensor> denseTensors() {
        List<Tensor> t = new ArrayList<>();
        t.add(tokEmbeddings);
        t.addAll(Arrays.asList(attnNorm));
        t.addAll(Arrays.asList(ffnNorm));
        t.add(norm);
        if (lmHead != tokEmbeddings) t.add(lmHead);
        return t;
    }

    @Override
    public void close() {
        for (LinearWeight[] ls : linears) for (LinearWeight w : ls) w.close();
        if (ownsDense) for (Tensor t : denseTensors()) t.close();
    }
}
