package io.lowbit.models.train.methods;

import io.lowbit.models.LlamaConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training memory of a LLaMA-shaped model per method, computed the way the LoQT paper computes its memory
 * column (spec "Memory per matrix", Table 3): bf16 parameters and Adam states (2 B each), NF4 = 0.5 B per
 * element for LoQT's W and P, full Adam for every non-adapted parameter (embeddings, LM head, norms). Per
 * adapted matrix W (m×n with m ≤ n), rank r' = min(r, m), and A = Adam bytes per element (two moments):
 * <pre>
 *   method    weights                       optimizer states       gradients
 *   full      2·mn                          A·mn                   2·mn
 *   galore    2·mn                          2·mr' + A·nr'          2·mn
 *   lora      2·(mn + mr' + nr')            A·(mr' + nr')          2·(mr' + nr')
 *   loqt      0.5·mn + 0.5·mr' + 2·nr'      A·nr'                  2·nr'
 *   loqt-nq   2·(mn + mr' + nr')            A·nr'                  2·nr'
 * </pre>
 * (ReLoRA is LoRA's memory.) A = 4 for bf16 AdamW; 8-bit AdamW stores one byte per moment entry plus an
 * fp32 absmax per 2048 entries. With per-layer updates only one parameter's gradient exists at a time (the
 * largest). Activations, when a batch and sequence length are given, use the per-layer estimate of
 * Korthikanti et al. 2022 for 16-bit activations without recomputation, s·b·h·(34 + 5·a·s/h) bytes, plus
 * bf16 logits and their fp32 log-softmax (b·s·V·6 bytes) — an approximation (it counts a GPT MLP, not
 * SwiGLU), reported separately so the paper's column (weights + optimizer) stays exact.
 */
public final class MemoryPlan {
    private MemoryPlan() {}

    /** Methods the planner knows. */
    public static final List<String> METHODS = List.of("full", "loqt", "loqt-nq", "galore", "lora", "relora");

    /** Bytes per GiB (2^30): the unit of the paper's column and of "a 24 GB GPU". */
    public static final double GIB = 1L << 30;

    /** The breakdown in bytes (fractional because NF4 is half a byte per element). */
    public record Estimate(String method, int rank, String optimizer, boolean perLayer, double weightsBytes, double optimizerBytes,
                           double gradientsBytes, double activationsBytes, long adaptedMatrices, double adaptedParams,
                           double trainableParams) {
        /** Weights + optimizer states: the paper's memory column. */
        public double paperBytes() {
            return weightsBytes + optimizerBytes;
        }

        /** Weights + optimizer states + gradients + activations. */
        public double totalBytes() {
            return weightsBytes + optimizerBytes + gradientsBytes + activationsBytes;
        }

        /** True when {@link #totalBytes()} fits in {@code gpuGiB}·2^30 bytes. */
        public boolean fits(double gpuGiB) {
            return totalBytes() <= gpuGiB * GIB;
        }

        /** The fields as a JSON-ready map (bytes rounded up to whole bytes). */
        public Map<String, Object> toJson(String preset, double gpuGiB) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("preset", preset);
            m.put("method", method);
            m.put("rank", rank);
            m.put("optimizer", optimizer);
            m.put("per_layer", perLayer);
            m.put("weights_bytes", (long) Math.ceil(weightsBytes));
            m.put("optimizer_bytes", (long) Math.ceil(optimizerBytes));
            m.put("gradients_bytes", (long) Math.ceil(gradientsBytes));
            m.put("activations_bytes", (long) Math.ceil(activationsBytes));
            m.put("total_bytes", (long) Math.ceil(totalBytes()));
            m.put("paper_memory_gib", paperBytes() / GIB);
            m.put("total_gib", totalBytes() / GIB);
            m.put("gpu_gib", gpuGiB);
            m.put("fits", fits(gpuGiB));
            m.put("adapted_matrices", adaptedMatrices);
            m.put("trainable_params", (long) trainableParams);
            return m;
        }
    }

    /**
     * The estimate for {@code cfg} trained with {@code method}.
     *
     * @param optimizer "adamw" (bf16 states) or "adamw8bit"
     * @param batch     sequences per micro-batch (0: no activation estimate)
     * @param seq       sequence length (0: no activation estimate)
     */
    public static Estimate estimate(LlamaConfig cfg, String method, int rank, boolean perLayer, String optimizer, int batch, int seq) {
        if (!METHODS.contains(method)) throw new IllegalArgumentException("unknown method '" + method + "'; choose one of " + METHODS);
        if (rank < 1) throw new IllegalArgumentException("rank must be >= 1, got " + rank);
        if (batch < 0 || seq < 0) throw new IllegalArgumentException("batch and seq must be >= 0, got " + batch + ", " + seq);
        double adam = switch (optimizer) {
            case "adamw" -> 4.0; // two bf16 moments
            case "adamw8bit" -> 2.0 + 2.0 * 4 / 2048; // two 8-bit moments + fp32 absmax per 2048 entries
            default -> throw new IllegalArgumentException("unknown optimizer '" + optimizer + "'; choose adamw or adamw8bit");
        };
        long d = cfg.hiddenSize(), inter = cfg.intermediateSize(), layers = cfg.numHiddenLayers();
        long[][] shapes = { // {out, in} of q, k, v, o, gate, up, down
                {cfg.qDim(), d}, {cfg.kvDim(), d}, {cfg.kvDim(), d}, {d, cfg.qDim()}, {inter, d}, {inter, d}, {d, inter}};
        double w = 0, opt = 0, grad = 0, adapted = 0, trainable = 0, largestGrad = 0;
        for (long[] s : shapes) {
            double m = Math.min(s[0], s[1]), n = Math.max(s[0], s[1]), r = Math.min(rank, m), mn = m * n;
            double mw, mo, mg, mt; // per matrix: weights, optimizer, gradient bytes; trainable elements
            switch (method) {
                case "full" -> { mw = 2 * mn; mo = adam * mn; mg = 2 * mn; mt = mn; }
                case "galore" -> { mw = 2 * mn; mo = 2 * m * r + adam * n * r; mg = 2 * mn; mt = mn; }
                case "lora", "relora" -> { mw = 2 * (mn + m * r + n * r); mo = adam * (m * r + n * r); mg = 2 * (m * r + n * r); mt = m * r + n * r; }
                case "loqt" -> { mw = 0.5 * mn + 0.5 * m * r + 2 * n * r; mo = adam * n * r; mg = 2 * n * r; mt = n * r; }
                default -> { mw = 2 * (mn + m * r + n * r); mo = adam * n * r; mg = 2 * n * r; mt = n * r; } // loqt-nq
            }
            w += layers * mw;
            opt += layers * mo;
            grad += layers * mg;
            adapted += layers * mn;
            trainable += layers * mt;
            largestGrad = Math.max(largestGrad, method.equals("lora") || method.equals("relora") ? 2 * n * r : mg);
        }
        // non-adapted parameters: embeddings, LM head (untied), RMSNorm weights — bf16 with full Adam
        double embed = (double) cfg.vocabSize() * d, head = cfg.tieWordEmbeddings() ? 0 : embed, norms = (2.0 * layers + 1) * d;
        double other = embed + head + norms;
        w += 2 * other;
        opt += adam * other;
        grad += 2 * other;
        trainable += other;
        largestGrad = Math.max(largestGrad, 2 * embed);
        if (perLayer) grad = largestGrad;
        double act = 0;
        if (batch > 0 && seq > 0) {
            double sbh = (double) seq * batch * d;
            act = layers * sbh * (34 + 5.0 * cfg.numAttentionHeads() * seq / d) + (double) batch * seq * cfg.vocabSize() * 6;
        }
        return new Estimate(method, rank, optimizer, perLayer, w, opt, grad, act, 7 * layers, adapted, trainable);
    }
}
