package io.lowbit.models.quant;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.Kernels;
import io.lowbit.models.llama.Rope;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Inference over a {@link QuantizedLlama}: the same decoder as {@code llama.LlamaModel} (pre-norm blocks,
 * RoPE, causal grouped-query attention with optional sliding window, SwiGLU MLP), but every linear goes
 * through {@link LinearWeight#apply}, so quantized weights are decoded on the fly by the fused GEMV (one
 * to four rows) or the tiled dequantize-and-multiply kernel (larger chunks) and never exist densely.
 * Tokens are processed in chunks of up to {@code chunk} rows with a KV cache of {@code maxSeq} positions.
 *
 * <p>{@link #setLinearHook} exposes the input of every linear — the calibration hook that
 * {@link ModelQuantizer} uses (the float inference model {@code LlamaModel} has no such hook). Not
 * thread-safe.
 */
public final class QuantLlamaModel implements AutoCloseable {
    /** Receives a copy of the rows [n, cols] entering linear {@code slot} of layer {@code layer}. */
    @FunctionalInterface
    public interface LinearHook {
        void input(int layer, int slot, float[] rows, int n);
    }

    private final QuantizedLlama m;
    private final LlamaConfig c;
    private final int maxSeq, chunk, dim, qDim, kvDim, ffn, vocab, heads, kvHeads, headDim, window;
    private final float eps;
    private final Rope rope;
    private final float[][] keyCache, valueCache; // [layer][pos·kvDim + ch]
    private final float[] x, xb, xb2, q, k, v, hb, hb2, att, logits;
    private final Tensor stageIn, stageOut;
    private final LinearWeight head;
    private LinearHook hook;

    /** A runner over {@code model} (not owned) for {@code maxSeq} positions, chunks of {@code chunk} rows. */
    public QuantLlamaModel(QuantizedLlama model, int maxSeq, int chunk) {
        this.m = model;
        this.c = model.config();
        if (maxSeq <= 0 || maxSeq > c.maxPositionEmbeddings())
            throw new IllegalArgumentException("maxSeq " + maxSeq + " must be in [1, max_position_embeddings = " + c.maxPositionEmbeddings() + "]");
        if (chunk < 1) throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        this.maxSeq = maxSeq;
        this.chunk = chunk;
        dim = c.hiddenSize();
        qDim = c.qDim();
        kvDim = c.kvDim();
        ffn = c.intermediateSize();
        vocab = c.vocabSize();
        heads = c.numAttentionHeads();
        kvHeads = c.numKeyValueHeads();
        headDim = c.headDim();
        window = c.slidingWindow();
        eps = (float) c.rmsNormEps();
        rope = new Rope(c, model.ropeLayout(), maxSeq);
        keyCache = new float[c.numHiddenLayers()][maxSeq * kvDim];
        valueCache = new float[c.numHiddenLayers()][maxSeq * kvDim];
        x = new float[chunk * dim];
        xb = new float[chunk * Math.max(dim, qDim)];
        xb2 = new float[chunk * Math.max(dim, qDim)];
        q = new float[chunk * qDim];
        k = new float[chunk * kvDim];
        v = new float[chunk * kvDim];
        hb = new float[chunk * ffn];
        hb2 = new float[chunk * ffn];
        att = new float[maxSeq];
        logits = new float[chunk * vocab];
        int widest = Math.max(Math.max(dim, qDim), ffn);
        stageIn = Tensor.empty(DType.F32, MemoryCategory.ACTIVATIONS, chunk * widest);
        stageOut = Tensor.empty(DType.F32, MemoryCategory.ACTIVATIONS, chunk * Math.max(widest, vocab));
        head = new LinearWeight.Dense(model.lmHead(), false);
    }

    public LlamaConfig config() { return c; }
    public int maxSeq() { return maxSeq; }
    /** Rows per chunk. */
    public int chunk() { return chunk; }

    /** Sets (or clears, with null) the hook that sees every linear's input. */
    public void setLinearHook(LinearHook h) {
        this.hook = h;
    }

    /** Runs {@code tokens} at positions startPos, … and writes every position's logits into out [tokens.length, vocab]. */
    public void forwardAll(int[] tokens, int startPos, float[] out) {
        if (out.length < (long) tokens.length * vocab)
            throw new IllegalArgumentException("output holds " + out.length + " floats, need " + (long) tokens.length * vocab);
        checkRange(tokens.length, startPos);
        for (int off = 0; off < tokens.length; off += chunk) {
            int n = Math.min(chunk, tokens.length - off);
            embed(tokens, off, n);
            for (int l = 0; l < c.numHiddenLayers(); l++) block(l, n, startPos + off);
            finalLogits(n);
            System.arraycopy(logits, 0, out, off * vocab, n * vocab);
        }
    }

    /** One token at {@code pos} (earlier positions already cached); returns the next-token logits (runner buffer). */
    public float[] forward(int token, int pos) {
        checkRange(1, pos);
        embed(new int[] {token}, 0, 1);
        for (int l = 0; l < c.numHiddenLayers(); l++) block(l, 1, pos);
        finalLogits(1);
        return Arrays.copyOf(logits, vocab);
    }

    private void checkRange(int n, int startPos) {
        if (startPos < 0 || (long) startPos + n > maxSeq)
            throw new IllegalArgumentException("positions " + startPos + ".." + (startPos + n - 1) + " do not fit the KV cache of " + maxSeq);
    }

    /** x[0:n] = embeddings of tokens[off : off+n]. */
    void embed(int[] tokens, int off, int n) {
        for (int t = 0; t < n; t++) {
            int tok = tokens[off + t];
            if (tok < 0 || tok >= vocab) throw new IllegalArgumentException("token id " + tok + " at index " + (off + t) + " is outside the vocabulary [0, " + vocab + ")");
            MemorySegment.copy(m.tokEmbeddings().segment(), ValueLayout.JAVA_FLOAT, m.tokEmbeddings().byteOffset() + 4L * tok * dim, x, t * dim, dim);
        }
    }

    /** Loads hidden rows [n, dim] from {@code src} at float {@code off} into the residual stream. */
    void loadHidden(float[] src, int off, int n) {
        System.arraycopy(src, off, x, 0, n * dim);
    }

    /** Stores the residual stream rows [n, dim] into {@code dst} at float {@code off}. */
    void storeHidden(float[] dst, int off, int n) {
        System.arraycopy(x, 0, dst, off, n * dim);
    }

    /** Decoder block {@code l} over residual rows 0 … n−1 at positions pos0 …; fills layer l's cache. */
    void block(int l, int n, int pos0) {
        if (n > chunk) throw new IllegalArgumentException(n + " rows exceed the chunk of " + chunk);
        // h = x + Wo·Attention(RoPE(Wq·RMSNorm(x)), RoPE(Wk·RMSNorm(x)), Wv·RMSNorm(x))
        for (int t = 0; t < n; t++) Kernels.rmsnorm(xb, t * dim, x, t * dim, m.attnNorm(l).segment(), dim, eps);
        linear(l, QuantizedLlama.Q, xb, n, q);
        linear(l, QuantizedLlama.K, xb, n, k);
        linear(l, QuantizedLlama.V, xb, n, v);
        float[] kc = keyCache[l], vc = valueCache[l];
        for (int t = 0; t < n; t++) {
            int pos = pos0 + t;
            rope.apply(q, t * qDim, heads, pos);
            rope.apply(k, t * kvDim, kvHeads, pos);
            System.arraycopy(k, t * kvDim, kc, pos * kvDim, kvDim);
            System.arraycopy(v, t * kvDim, vc, pos * kvDim, kvDim);
        }
        attention(kc, vc, n, pos0); // xb2 = softmax(q·Kᵀ/√d_h)·V per head
        linear(l, QuantizedLlama.O, xb2, n, xb);
        for (int i = 0; i < n * dim; i++) x[i] += xb[i];
        // x = h + W_down·(silu(W_gate·RMSNorm(h)) ⊙ W_up·RMSNorm(h))
        for (int t = 0; t < n; t++) Kernels.rmsnorm(xb, t * dim, x, t * dim, m.ffnNorm(l).segment(), dim, eps);
        linear(l, QuantizedLlama.GATE, xb, n, hb);
        linear(l, QuantizedLlama.UP, xb, n, hb2);
        Kernels.siluMul(hb, 0, hb2, 0, n * ffn);
        linear(l, QuantizedLlama.DOWN, hb, n, xb);
        for (int i = 0; i < n * dim; i++) x[i] += xb[i];
    }

    private void attention(float[] kc, float[] vc, int n, int pos0) {
        int group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(headDim)); // 1/√d_h (Vaswani et al. 2017, eq. 1)
        for (int t = 0; t < n; t++) {
            int pos = pos0 + t, from = window > 0 ? Math.max(0, pos - window + 1) : 0, len = pos - from + 1;
            for (int h = 0; h < heads; h++) {
                int qOff = t * qDim + h * headDim, kvOff = (h / group) * headDim;
                for (int j = 0; j < len; j++) att[j] = Kernels.dot(q, qOff, kc, (from + j) * kvDim + kvOff, headDim) * scale;
                Kernels.softmax(att, 0, len);
                Arrays.fill(xb2, qOff, qOff + headDim, 0f);
                for (int j = 0; j < len; j++) Kernels.axpy(att[j], vc, (from + j) * kvDim + kvOff, xb2, qOff, headDim);
            }
        }
    }

    private void finalLogits(int n) {
        for (int t = 0; t < n; t++) Kernels.rmsnorm(x, t * dim, x, t * dim, m.norm().segment(), dim, eps);
        MemorySegment.copy(x, 0, stageIn.segment(), ValueLayout.JAVA_FLOAT, 0, n * dim);
        head.apply(stageIn.segment(), 0, n, stageOut.segment(), 0);
        MemorySegment.copy(stageOut.segment(), ValueLayout.JAVA_FLOAT, 0, logits, 0, n * vocab);
    }

    /** out[n, rows] = in[n, cols]·Wᵀ for linear {@code slot} of layer {@code l}, through the hook. */
    private void linear(int l, int slot, float[] in, int n, float[] out) {
        LinearWeight w = m.linear(l, slot);
        int cols = w.cols(), rows = w.rows();
        if (hook != null) hook.input(l, slot, Arrays.copyOf(in, n * cols), n);
        MemorySegment.copy(in, 0, stageIn.segment(), ValueLayout.JAVA_FLOAT, 0, n * cols);
        w.apply(stageIn.segment(), 0, n, stageOut.segment(), 0);
        MemorySegment.copy(stageOut.segment(), ValueLayout.JAVA_FLOAT, 0, out, 0, n * rows);
    }

    /** Frees the staging buffers (the model belongs to the caller). */
    @Override
    public void close() {
        stageIn.close();
        stageOut.close();
    }
}
