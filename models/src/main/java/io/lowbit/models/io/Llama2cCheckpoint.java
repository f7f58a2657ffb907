package io.lowbit.models.io;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.AtomicFiles;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * karpathy/llama2.c's legacy {@code .bin} checkpoint: a header of 7 little-endian int32 (dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is stored
 * separately), then float32 tensors in this order, each stacked over layers: token_embedding [vocab, dim],
 * rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim],
 * rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
 * freq_cis_real [seq_len, head_size/2], freq_cis_imag [same], and wcls [vocab, dim] when unshared.
 * q/k rows use Meta's interleaved RoPE layout; RMSNorm ε is 1e-5 and RoPE θ is 10000 (run.c's constants).
 */
public final class Llama2cCheckpoint {
    private Llama2cCheckpoint() {}

    private static final String[] FIELDS = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    private static final int HEADER = 7 * 4;

    /** Reads the config from the header, checking every field (errors name the file and the field). */
    public static LlamaConfig readConfig(Path file) throws IOException {
        long size = Files.size(file);
        if (size < HEADER) throw new IOException(file + ": truncated llama2.c checkpoint: " + size + " bytes, the 28-byte header needs 28");
        ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (b.hasRemaining()) if (ch.read(b) < 0) break;
        }
        b.flip();
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = b.getInt();
        return configOf(h, file);
    }

    private static LlamaConfig configOf(int[] h, Path file) {
        for (int i = 0; i < 7; i++) {
            long v = i == 5 ? Math.abs((long) h[i]) : h[i];
            if (v <= 0) throw new IllegalArgumentException(file + ": header field " + FIELDS[i] + " = " + h[i] + " must be "
                    + (i == 5 ? "nonzero" : "positive"));
            if (v > LlamaConfig.MAX_DIM) throw new IllegalArgumentException(file + ": header field " + FIELDS[i] + " = " + h[i]
                    + " is absurdly large (limit " + LlamaConfig.MAX_DIM + "); is this a llama2.c .bin file?");
        }
        if (h[0] % h[3] != 0) throw new IllegalArgumentException(file + ": header field n_heads = " + h[3] + " does not divide dim = " + h[0]);
        if (h[3] % h[4] != 0) throw new IllegalArgumentException(file + ": header field n_kv_heads = " + h[4] + " does not divide n_heads = " + h[3]);
        try {
            return LlamaConfig.of(h[0], h[1], h[3], h[4], h[2], Math.abs(h[5]), h[6], 1e-5, 10000, h[5] > 0);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Bytes a checkpoint with this config occupies. */
    public static long fileSize(LlamaConfig c) {
        long d = c.hiddenSize(), L = c.numHiddenLayers(), f = c.intermediateSize(), kv = c.kvDim(), V = c.vocabSize();
        try { // exact: a hostile header with every dim near MAX_DIM overflows a long
            long perLayer = Math.addExact(Math.addExact(2 * d + 2 * d * d, 2 * d * kv), Math.multiplyExact(3 * d, f));
            long floats = Math.addExact(Math.addExact(V * d, Math.multiplyExact(L, perLayer)),
                    d + (long) c.maxPositionEmbeddings() * c.headDim() + (c.tieWordEmbeddings() ? 0 : V * d));
            return Math.addExact(HEADER, Math.multiplyExact(4, floats));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("a llama2.c checkpoint with " + describe(c) + " is too large: its byte count overflows a long");
        }
    }

    /** Loads the whole checkpoint into owned F32 tensors (RoPE layout {@link RopeLayout#INTERLEAVED}). */
    public static LlamaWeights read(Path file) throws IOException {
        LlamaConfig c = readConfig(file);
        long size = Files.size(file), need;
        try {
            need = fileSize(c);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        if (size < need) throw new IOException(file + ": truncated llama2.c checkpoint: the header (" + describe(c)
                + ") needs " + need + " bytes, the file has " + size);
        if (size > need) throw new IOException(file + ": " + (size - need) + " unexpected trailing bytes after offset " + need
                + " for a checkpoint with " + describe(c));
        int d = c.hiddenSize(), L = c.numHiddenLayers(), f = c.intermediateSize(), kv = c.kvDim(), V = c.vocabSize();
        List<Tensor> made = new ArrayList<>();
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long[] pos = {HEADER};
            Tensor emb = take(seg, pos, made, V, d);
            Tensor[] rmsAtt = stack(seg, pos, made, L, d), wq = stack(seg, pos, made, L, d, d), wk = stack(seg, pos, made, L, kv, d),
                    wv = stack(seg, pos, made, L, kv, d), wo = stack(seg, pos, made, L, d, d), rmsFfn = stack(seg, pos, made, L, d),
                    w1 = stack(seg, pos, made, L, f, d), w2 = stack(seg, pos, made, L, d, f), w3 = stack(seg, pos, made, L, f, d);
            Tensor norm = take(seg, pos, made, d);
            pos[0] += 4L * c.maxPositionEmbeddings() * c.headDim(); // freq_cis_real and _imag: recomputed, not read
            Tensor head = c.tieWordEmbeddings() ? emb : take(seg, pos, made, V, d);
            List<LlamaWeights.Layer> layers = new ArrayList<>();
            for (int l = 0; l < L; l++)
                layers.add(new LlamaWeights.Layer(rmsAtt[l], wq[l], wk[l], wv[l], wo[l], rmsFfn[l], w1[l], w2[l], w3[l]));
            return new LlamaWeights(c, RopeLayout.INTERLEAVED, emb, layers, norm, head);
        } catch (IOException | RuntimeException e) {
            for (Tensor t : made) t.close();
            throw e;
        }
    }

    private static String describe(LlamaConfig c) {
        return "dim " + c.hiddenSize() + ", hidden_dim " + c.intermediateSize() + ", n_layers " + c.numHiddenLayers() + ", n_heads "
                + c.numAttentionHeads() + ", n_kv_heads " + c.numKeyValueHeads() + ", vocab_size " + c.vocabSize()
                + (c.tieWordEmbeddings() ? "" : " (unshared classifier)") + ", seq_len " + c.maxPositionEmbeddings();
    }

    private static Tensor take(MemorySegment seg, long[] pos, List<Tensor> made, int... shape) {
        Tensor t = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, shape);
        made.add(t);
        long bytes = t.numel() * 4;
        MemorySegment.copy(seg, pos[0], t.segment(), 0, bytes);
        pos[0] += bytes;
        return t;
    }

    private static Tensor[] stack(MemorySegment seg, long[] pos, List<Tensor> made, int layers, int... shape) {
        Tensor[] out = new Tensor[layers];
        for (int l = 0; l < layers; l++) out[l] = take(seg, pos, made, shape);
        return out;
    }

    /**
     * Writes {@code w} in the legacy format, atomically (temporary file in the same directory, then a move).
     * The weights must be in Meta's interleaved RoPE layout.
     */
    public static void write(Path file, LlamaWeights w) throws IOException {
        if (w.ropeLayout() != RopeLayout.INTERLEAVED)
            throw new IllegalArgumentException("llama2.c checkpoints use the interleaved RoPE layout; permute q/k first (QkPermutation)");
        LlamaConfig c = w.config();
        AtomicFiles.write(file, out -> {
            ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(c.hiddenSize()).putInt(c.intermediateSize()).putInt(c.numHiddenLayers()).putInt(c.numAttentionHeads())
                    .putInt(c.numKeyValueHeads()).putInt(c.tieWordEmbeddings() ? c.vocabSize() : -c.vocabSize())
                    .putInt(c.maxPositionEmbeddings());
            out.write(h.array());
            put(out, w.tokEmbeddings());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.attnNorm());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.wq());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.wk());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.wv());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.wo());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.ffnNorm());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.w1());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.w2());
            for (LlamaWeights.Layer l : w.layers()) put(out, l.w3());
            put(out, w.norm());
            // freq_cis_real then freq_cis_imag: cos and sin of p·θ_i, [seq_len, head_size/2] (run.c skips them)
            int half = c.headDim() / 2, seq = c.maxPositionEmbeddings();
            ByteBuffer re = ByteBuffer.allocate(4 * seq * half).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer im = ByteBuffer.allocate(4 * seq * half).order(ByteOrder.LITTLE_ENDIAN);
            for (int p = 0; p < seq; p++)
                for (int i = 0; i < half; i++) {
                    double angle = p * Math.pow(c.ropeTheta(), -2.0 * i / c.headDim());
                    re.putFloat((float) Math.cos(angle));
                    im.putFloat((float) Math.sin(angle));
                }
            out.write(re.array());
            out.write(im.array());
            if (!c.tieWordEmbeddings()) put(out, w.lmHead());
        });
    }

    private static void put(OutputStream out, Tensor t) throws IOException {
        byte[] buf = new byte[(int) Math.min(t.numel() * 4, 1 << 20)];
        long bytes = t.numel() * 4;
        for (long off = 0; off < bytes; off += buf.length) {
            int n = (int) Math.min(buf.length, bytes - off);
            MemorySegment.copy(t.segment(), ValueLayout.JAVA_BYTE, off, buf, 0, n);
            out.write(buf, 0, n);
        }
    }

    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new ExceptionInInitializerError("llama2.c checkpoints are little-endian; this JVM is big-endian");
    }
}
