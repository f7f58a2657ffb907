package io.lowbit.models.generate;

import io.lowbit.models.llama.LlamaModel;

/**
 * Perplexity of a token stream, exp(mean over scored tokens of −log p(token | preceding tokens)), in
 * windows of at most {@code window} tokens that start every {@code stride} tokens (Hugging Face's
 * sliding-window evaluation): each window is run from an empty cache and scores only tokens that no earlier
 * window scored and that have context inside the window. With stride &lt; window every token after the
 * first is scored exactly once; with stride = window (disjoint windows) each window's first token is not.
 */
public final class Perplexity {
    private Perplexity() {}

    /**
     * @param nll             summed negative log-likelihood (nats)
     * @param tokensEvaluated tokens scored
     * @param windows         windows run
     */
    public record Result(double nll, long tokensEvaluated, int windows) {
        /** exp(nll / tokens). */
        public double perplexity() {
            return Math.exp(nll / tokensEvaluated);
        }

        @Override
        public String toString() {
            return String.format("perplexity=%.4f tokens=%d windows=%d", perplexity(), tokensEvaluated, windows);
        }
    }

    /** Scores {@code tokens} with windows of {@code window} tokens starting every {@code stride} tokens. */
    public static Result evaluate(LlamaModel model, int[] tokens, int window, int stride) {
        if (tokens.length < 2) throw new IllegalArgumentException("perplexity needs at least 2 tokens, got " + tokens.length);
        if (window < 2 || window > model.maxSeq())
            throw new IllegalArgumentException("window " + window + " must be in [2, " + model.maxSeq() + "] (the model's context)");
        if (stride < 1 || stride > window) throw new IllegalArgumentException("stride " + stride + " must be in [1, window = " + window + "]");
        int vocab = model.config().vocabSize();
        float[] logits = new float[window * vocab];
        double nll = 0;
        long scored = 0;
        int windows = 0, scoredUpTo = 1; // tokens[0] has no context and is never scored
        for (int begin = 0; scoredUpTo < tokens.length && begin + 1 < tokens.length; begin += stride) {
            int end = Math.min(begin + window, tokens.length);
            int[] chunk = java.util.Arrays.copyOfRange(tokens, begin, end);
            model.forwardAll(chunk, 0, logits);
            windows++;
            for (int target = Math.max(scoredUpTo, begin + 1); target < end; target++) {
                nll -= logProb(logits, (target - 1 - begin) * vocab, vocab, tokens[target]);
                scored++;
            }
            scoredUpTo = Math.max(scoredUpTo, end);
        }
        return new Result(nll, scored, windows);
    }

    /** log softmax(logits[off ..off+vocab))[token], in double. */
    static double logProb(float[] logits, int off, int vocab, int token) {
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, " + vocab + ")");
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
        return logits[off + token] - max - Math.log(sum);
    }
}
