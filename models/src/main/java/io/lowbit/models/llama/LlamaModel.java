package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Gemv;
import io.lowbit.tensor.cpu.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A LLaMA decoder ready to generate: weights, a KV cache of {@code maxSeq} positions and every buffer a
 * forward pass needs, all allocated once. Per block (Touvron et al. 2023):
 * <pre>
 *   h = x + Wo · Attention(RoPE(Wq·RMSNorm(x)), RoPE(Wk·RMSNorm(x)), Wv·RMSNorm(x))
 *   x = h + W2 · (silu(W1·RMSNorm(h)) ⊙ W3·RMSNorm(h))
 * </pre>
 * then logits = LMHead · RMSNorm(x). Attention is causal, grouped-query (query head j reads key/value
 * head j / (heads/kv_heads)) and, with a sliding window W, position p sees positions p−W+1 … p.
 * Tokens are processed in chunks of up to {@link #CHUNK} rows (or the chunk given) through the same code, so
 * one-token decoding and a prompt prefill share every line. Matrix-vector products with dense weights are
 * split over output rows, and attention over heads, across a {@link SpinTeam} of {@link Parallel#threads()}
 * threads owned by the model (closed with it); a linear that is not dense ({@link Linear#dense()} null, e.g.
 * a quantized weight) computes its own product ({@link Linear#forward}).
 *
 * <p>For calibration, {@link #setLinearHook} shows every linear its input, and {@link #embed},
 * {@link #block}, {@link #loadHidden} and {@link #storeHidden} run the model one block at a time
 * (GPTQ's sequential quantization). Not thread-safe: one sequence at a time.
 */
public final class LlamaModel implements AutoCloseable {
    /** Most tokens pushed through the blocks at once (prefill and scoring work in chunks of this size). */
    public static final int CHUNK = 32;
    /** Matrices up to this size take {@link Gemv#dot4} (stories260K decodes 29 % faster); larger ones stream a row at a time (dot4 on the 15M-class model's 330-885 KiB matrices, which the LM head evicts, cost 12 %). */
    static final long SMALL_MATRIX_BYTES = 256 << 10;

    /** Receives a copy of the rows [n, cols] entering linear {@code slot} ({@link DecoderWeights#LINEARS}) of block {@code layer}. */
    @FunctionalInterface
    public interface LinearHook {
        void input(int layer, int slot, float[] rows, int n);
    }

    private final DecoderWeights w;
    private final LlamaConfig c;
    private final int maxSeq, chunk, dim, qDim, kvDim, ffn, vocab, heads, kvHeads, headDim, window;
    private final float eps;
    private final Rope rope;
    private final KvCache cache;
    // activations for up to chunk rows, row-major
    private final float[] x, xb, xb2, q, k, v, hb, hb2, logits, logitsChunk;
    // attention scratch per query head: scaled query, scores, partial sums
    private final float[] qs, att, acc;
    private final SpinTeam team;
    private final MatVec matvec = new MatVec();
    private final Attention attention = new Attention();
    private LinearHook hook;

    /** A model over {@code weights} (which it does not own) with a KV cache for {@code maxSeq} positions. */
    public LlamaModel(DecoderWeights weights, int maxSeq) {
        this(weights, maxSeq, CHUNK);
    }

    /**
     * A model over {@code weights} (not owned) with a KV cache for {@code maxSeq} positions that pushes up to
     * {@code chunk} tokens through the blocks at once (larger chunks help weights whose batched product is a
     * matmul, as the quantized ones).
     */
    public LlamaModel(DecoderWeights weights, int maxSeq, int chunk) {
        this.w = weights;
        this.c = weights.config();
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
        rope = new Rope(c, weights.ropeLayout(), maxSeq);
        x = new float[chunk * dim];
        xb = new float[chunk * Math.max(dim, qDim)];
        xb2 = new float[chunk * dim];
        q = new float[chunk * qDim];
        k = new float[chunk * kvDim];
        v = new float[chunk * kvDim];
        hb = new float[chunk * ffn];
        hb2 = new float[chunk * ffn];
        logits = new float[vocab];
        logitsChunk = new float[chunk * vocab];
        cache = new KvCache(c.numHiddenLayers(), kvHeads, headDim, maxSeq);
        qs = new float[heads * headDim];
        att = new float[heads * cache.scoreStride()];
        acc = new float[heads * headDim * KvCache.T];
        team = new SpinTeam(Parallel.threads()); // last: nothing can fail after the threads start
    }

    public LlamaConfig config() {
        return c;
    }

    /** Positions the KV cache holds. */
    public int maxSeq() {
        return maxSeq;
    }

    /** Most rows pushed through the blocks at once. */
    public int chunk() {
        return chunk;
    }

    /** Sets (or clears, with null) the hook that sees the input of every linear of the blocks. */
    public void setLinearHook(LinearHook hook) {
        this.hook = hook;
    }

    /**
     * Runs one token at position {@code pos} (positions 0 … pos−1 must already be in the cache) and returns
     * the next-token logits. The array is this model's buffer: valid until the next call.
     */
    public float[] forward(int token, int pos) {
        checkRange(1, pos);
        checkToken(token);
        embedRow(token, 0);
        blocks(1, pos);
        finalLogits(1, false);
        return logits;
    }

    /** Runs {@code tokens} at positions startPos, startPos+1, … and returns the logits after the last one (model buffer). */
    public float[] prefill(int[] tokens, int startPos) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        checkRange(tokens.length, startPos);
        for (int off = 0; off < tokens.length; off += chunk) {
            int n = Math.min(chunk, tokens.length - off);
            embed(tokens, off, n);
            blocks(n, startPos + off);
            if (off + n == tokens.length) finalLogits(n, false);
        }
        return logits;
    }

    /**
     * Runs {@code tokens} at positions startPos, … and writes the logits of every position into {@code out}
     * ([tokens.length, vocab], row-major), for scoring a text.
     */
    public void forwardAll(int[] tokens, int startPos, float[] out) {
        if (out.length < (long) tokens.length * vocab)
            throw new IllegalArgumentException("output holds " + out.length + " floats, need " + (long) tokens.length * vocab);
        checkRange(tokens.length, startPos);
        for (int off = 0; off < tokens.length; off += chunk) {
            int n = Math.min(chunk, tokens.length - off);
            embed(tokens, off, n);
            blocks(n, startPos + off);
            finalLogits(n, true);
            System.arraycopy(logitsChunk, 0, out, off * vocab, n * vocab);
        }
    }

    private void checkRange(int n, int startPos) {
        if (startPos < 0 || (long) startPos + n > maxSeq)
            throw new IllegalArgumentException("positions " + startPos + ".." + (startPos + n - 1) + " do not fit the KV cache of " + maxSeq);
    }

    private void checkToken(int token) {
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + vocab + ")");
    }

    private void embedRow(int token, int row) {
        Tensor e = w.tokEmbeddings();
        MemorySegment.copy(e.segment(), ValueLayout.JAVA_FLOAT, e.byteOffset() + (long) token * dim * 4, x, row * dim, dim);
    }

    /** Rows 0 … n−1 of the residual stream = embeddings of tokens[off … off+n−1] (checked). */
    public void embed(int[] tokens, int off, int n) {
        checkRows(n);
        for (int t = 0; t < n; t++) {
            checkToken(tokens[off + t]);
            embedRow(tokens[off + t], t);
        }
    }

    /** Loads residual rows [n, dim] from {@code src} at float {@code off} (to resume at a block). */
    public void loadHidden(float[] src, int off, int n) {
        checkRows(n);
        System.arraycopy(src, off, x, 0, n * dim);
    }

    /** Stores residual rows [n, dim] into {@code dst} at float {@code off}. */
    public void storeHidden(float[] dst, int off, int n) {
        checkRows(n);
        System.arraycopy(x, 0, dst, off, n * dim);
    }

    private void checkRows(int n) {
        if (n < 1 || n > chunk) throw new IllegalArgumentException(n + " rows outside [1, chunk = " + chunk + "]");
    }

    /** All decoder blocks over rows 0 … n−1 of x, which sit at positions pos0 … pos0+n−1. */
    private void blocks(int n, int pos0) {
        for (int l = 0; l < c.numHiddenLayers(); l++) block(l, n, pos0);
    }

    /**
     * Decoder block {@code l} over residual rows 0 … n−1 at positions pos0 … pos0+n−1 (earlier positions of
     * this block already cached); writes block l's KV cache.
     */
    public void block(int l, int n, int pos0) {
        checkRows(n);
        checkRange(n, pos0);
        // attention branch: xb = RMSNorm(x); q,k,v = Wq·xb, Wk·xb, Wv·xb
        for (int t = 0; t < n; t++) Kernels.rmsnorm(xb, t * dim, x, t * dim, w.attnNorm(l).segment(), dim, eps);
        matvec.set(l, xb, 0, dim, n);
        matvec.add(DecoderWeights.Q, q);
        matvec.add(DecoderWeights.K, k);
        matvec.add(DecoderWeights.V, v);
        matvec.go();
        for (int t = 0; t < n; t++) {
            int pos = pos0 + t;
            rope.apply(q, t * qDim, heads, pos);
            rope.apply(k, t * kvDim, kvHeads, pos);
            cache.put(l, pos, k, t * kvDim, v, t * kvDim);
        }
        attention.run(l, n, pos0); // xb = softmax(q·Kᵀ/√d_h)·V per head
        matvec.set(l, xb, 0, qDim, n);
        matvec.add(DecoderWeights.O, xb2);
        matvec.go();
        for (int i = 0; i < n * dim; i++) x[i] += xb2[i];
        // MLP branch: x += W2·(silu(W1·RMSNorm(x)) ⊙ W3·RMSNorm(x))
        for (int t = 0; t < n; t++) Kernels.rmsnorm(xb, t * dim, x, t * dim, w.ffnNorm(l).segment(), dim, eps);
        matvec.set(l, xb, 0, dim, n);
        matvec.add(DecoderWeights.GATE, hb);
        matvec.add(DecoderWeights.UP, hb2);
        matvec.go();
        Kernels.siluMul(hb, 0, hb2, 0, n * ffn);
        matvec.set(l, hb, 0, ffn, n);
        matvec.add(DecoderWeights.DOWN, xb2);
        matvec.go();
        for (int i = 0; i < n * dim; i++) x[i] += xb2[i];
    }

    /** Final RMSNorm and LM head, for the last row only or for every row. */
    private void finalLogits(int n, boolean allRows) {
        int first = allRows ? 0 : n - 1;
        for (int t = first; t < n; t++) Kernels.rmsnorm(x, t * dim, x, t * dim, w.norm().segment(), dim, eps);
        matvec.set(-1, x, allRows ? 0 : (n - 1) * dim, dim, allRows ? n : 1);
        matvec.addDense(w.lmHead(), allRows ? logitsChunk : logits, vocab);
        matvec.go();
    }

    /**
     * out_p[t, r] = W_p[r, :] · in[t, :] for up to three matrices sharing one input, split over the
     * concatenated output rows in one parallel dispatch; a linear that is not dense runs its own product
     * after it. Reused for every product (no allocation per token).
     */
    private final class MatVec implements Parallel.Range {
        private final MemorySegment[] mats = new MemorySegment[3];
        private final long[] matOff = new long[3];
        private final float[][] outs = new float[3][];
        private final int[] rows = new int[3];
        private final boolean[] small = new boolean[3];
        private final Linear[] others = new Linear[3];
        private final float[][] otherOuts = new float[3][];
        private int layer, parts, nOthers, cols, n, inOff;
        private float[] in;

        /** Starts a product of block {@code layer}'s linears (−1: the LM head) with rows [n, cols] of in from inOff. */
        void set(int layer, float[] in, int inOff, int cols, int n) {
            this.layer = layer;
            this.in = in;
            this.inOff = inOff;
            this.cols = cols;
            this.n = n;
            parts = nOthers = 0;
        }

        /** Adds linear {@code slot} of the current block, writing out[n, rows]. */
        void add(int slot, float[] out) {
            if (hook != null) hook.input(layer, slot, Arrays.copyOfRange(in, inOff, inOff + n * cols), n);
            if (w instanceof LlamaWeights fw) { // float weights: the matrix itself, no Linear view made per token
                Tensor d = fw.layers().get(layer).linear(slot);
                addDense(d, out, d.size(0));
                return;
            }
            Linear lin = w.linear(layer, slot);
            Tensor d = lin.dense();
            if (d != null) addDense(d, out, lin.rows());
            else {
                others[nOthers] = lin;
                otherOuts[nOthers++] = out;
            }
        }

        void addDense(Tensor w, float[] out, int r) {
            small[parts] = (long) r * cols * Float.BYTES <= SMALL_MATRIX_BYTES;
            mats[parts] = w.segment();
            matOff[parts] = w.offset();
            outs[parts] = out;
            rows[parts++] = r;
        }

        void go() {
            long groups = 0;
            for (int p = 0; p < parts; p++) groups += (rows[p] + 3) / 4;
            long work = 4L * cols * n;
            if (parts > 0) team.range(groups, Math.max(1, 32768 / work), this);
            for (int o = 0; o < nOthers; o++) others[o].forward(in, n, otherOuts[o]); // inOff is 0 for every block linear
        }

        /** Work items are groups of four consecutive rows of one matrix (the last group of a matrix may be shorter). */
        @Override
        public void run(long lo, long hi) {
            int p = 0;
            long first = 0; // first group of part p
            for (long g = lo; g < hi; g++) {
                while (g - first >= (rows[p] + 3) / 4) first += (rows[p++] + 3) / 4;
                int r0 = (int) (g - first) * 4, R = rows[p];
                MemorySegment m = mats[p];
                long m0 = matOff[p];
                float[] out = outs[p];
                if (r0 + 4 <= R && small[p]) { // cache-resident: four rows share x and one packed lane sum (same bits as dot)
                    for (int t = 0; t < n; t++) Gemv.dot4(m, m0 + (long) r0 * cols, cols, in, inOff + t * cols, cols, out, t * R + r0, 1);
                    continue;
                }
                for (int r = r0; r < Math.min(r0 + 4, R); r++) // one row at a time streams W fastest (see Gemv)
                    for (int t = 0; t < n; t++) out[t * R + r] = Gemv.dot(m, m0 + (long) r * cols, in, inOff + t * cols, cols);
            }
        }
    }

    /** Causal grouped-query attention for rows 0 … n−1 of q, written to xb; parallel over query heads ({@link KvCache#attend}). */
    private final class Attention implements Parallel.Range {
        private int layer, n, pos0;

        void run(int layer, int n, int pos0) {
            this.layer = layer;
            this.n = n;
            this.pos0 = pos0;
            long work = 2L * n * (pos0 + n) * headDim; // per head: scores plus the weighted sum of values
            team.range(heads, Math.max(1, 8192 / Math.max(1, work)), this);
        }

        @Override
        public void run(long lo, long hi) {
            int group = heads / kvHeads;
            float scale = (float) (1.0 / Math.sqrt(headDim)); // 1/√d_h (Vaswani et al. 2017, eq. 1)
            for (int h = (int) lo; h < hi; h++) {
                for (int t = 0; t < n; t++) {
                    int pos = pos0 + t, from = window > 0 ? Math.max(0, pos - window + 1) : 0;
                    int qOff = t * qDim + h * headDim;
                    for (int i = 0; i < headDim; i++) qs[h * headDim + i] = q[qOff + i] * scale;
                    cache.attend(layer, h / group, qs, h * headDim, from, pos, att, h * cache.scoreStride(),
                            acc, h * headDim * KvCache.T, xb, qOff);
                }
            }
        }
    }

    /** Releases the KV cache (the weights belong to the caller). */
    @Override
    public void close() {
        team.close();
        cache.close();
    }
}
