package io.lowbit.models.quant;

import io.lowbit.models.generate.Sampler;
import io.lowbit.models.llama.LlamaModel;

/**
 * Evaluation of (quantized) models on token streams: perplexity over disjoint windows (each window starts
 * from an empty cache; its first token is context only) and the mean KL divergence KL(p_fp ‖ p_q) of the
 * next-token distributions from a reference model, in double precision.
 */
public final class QuantEval {
    private QuantEval() {}

    /**
     * @param nll    summed negative log-likelihood (nats)
     * @param tokens tokens scored
     * @param kl     summed KL(p_ref ‖ p) over scored positions (0 without a reference)
     */
    public record Result(double nll, long tokens, double kl) {
        /** exp(nll / tokens). */
        public double perplexity() {
            return Math.exp(nll / tokens);
        }

        /** Mean KL per scored position (nats). */
        public double meanKl() {
            return kl / tokens;
        }
    }

    /** Perplexity of {@code tokens} under {@code model} in disjoint windows of {@code window} tokens. */
    public static Result perplexity(LlamaModel model, int[] tokens, int window) {
        return compare(null, model, tokens, window);
    }

    /** Perplexity of {@code model} and its KL from {@code reference} (may be null) on the same windows. */
    public static Result compare(LlamaModel reference, LlamaModel model, int[] tokens, int window) {
        if (tokens.length < 2) throw new IllegalArgumentException("evaluation needs at least 2 tokens, got " + tokens.length);
        if (window < 2 || window > model.maxSeq() || (reference != null && window > reference.maxSeq()))
            throw new IllegalArgumentException("window " + window + " must be in [2, " + model.maxSeq() + "] (the model's context)");
        int vocab = model.config().vocabSize();
        float[] lp = new float[window * vocab], lr = reference == null ? null : new float[window * vocab];
        double nll = 0, kl = 0;
        long scored = 0;
        for (int begin = 0; begin + 1 < tokens.length; begin += window) {
            int end = Math.min(begin + window, tokens.length);
            int[] chunk = java.util.Arrays.copyOfRange(tokens, begin, end);
            model.forwardAll(chunk, 0, lp);
            if (reference != null) reference.forwardAll(chunk, 0, lr);
            double[] p = new double[vocab], r = new double[vocab];
            for (int t = 0; t + 1 < chunk.length; t++) {
                logSoftmax(lp, t * vocab, vocab, p);
                nll -= p[chunk[t + 1]];
                if (reference != null) {
                    logSoftmax(lr, t * vocab, vocab, r);
                    double d = 0;
                    for (int i = 0; i < vocab; i++) d += Math.exp(r[i]) * (r[i] - p[i]); // KL(ref ‖ model)
                    kl += d;
                }
                scored++;
            }
        }
        return new Result(nll, scored, kl);
    }

    private static void logSoftmax(float[] x, int off, int n, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(x[off + i] - max);
        double lse = max + Math.log(sum);
        for (int i = 0; i < n; i++) out[i] = x[off + i] - lse;
    }

    /**
     * {@code count} sequences of {@code length} tokens sampled from {@code model} at temperature 1 (no top-k/p)
     * after a BOS token (id 1), with a fixed seed: evaluation and calibration text for checkpoints that ship
     * no tokenizer (stories260K). Sequence i uses seed {@code seed + i}.
     */
    public static int[][] sample(LlamaModel model, int count, int length, long seed) {
        if (length < 2 || length > model.maxSeq()) throw new IllegalArgumentException("sample length " + length + " must be in [2, " + model.maxSeq() + "]");
        int vocab = model.config().vocabSize();
        int[][] out = new int[count][length];
        for (int s = 0; s < count; s++) {
            Sampler sampler = new Sampler(vocab, 1.0, 0, 1.0, seed + s);
            out[s][0] = 1; // BOS
            for (int pos = 0; pos + 1 < length; pos++) out[s][pos + 1] = sampler.sample(model.forward(out[s][pos], pos));
        }
        return out;
    }

    /**
     * Autoregressive generation on a (quantized) model: feeds {@code prompt} from position 0, then samples up
     * to {@code maxNew} tokens with {@code sampler}, stopping before any of {@code stop} or at the end of the
     * cache. Returns the new tokens.
     */
    public static int[] generate(LlamaModel model, int[] prompt, int maxNew, Sampler sampler, int[] stop) {
        if (prompt.length == 0) throw new IllegalArgumentException("generation needs at least one prompt token (BOS)");
        int budget = Math.max(0, Math.min(maxNew, model.maxSeq() - prompt.length + 1));
        int[] out = new int[budget];
        if (budget == 0) return out;
        float[] logits = null;
        for (int p = 0; p < prompt.length; p++) logits = model.forward(prompt[p], p);
        int n = 0, pos = prompt.length;
        while (n < budget) {
            int next = sampler.sample(logits);
            boolean stopped = false;
            for (int st : stop) stopped |= st == next;
            if (stopped) break;
            out[n++] = next;
            if (n < budget) logits = model.forward(next, pos++);
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** The sequences concatenated into one stream. */
    public static int[] concat(int[][] seqs) {
        int n = 0;
        for (int[] s : seqs) n += s.length;
        int[] all = new int[n];
        int o = 0;
        for (int[] s : seqs) {
            System.arraycopy(s, 0, all, o, s.length);
            o += s.length;
        }
        return all;
    }
}
