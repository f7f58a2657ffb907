package io.lowbit.models.generate;

import io.lowbit.models.llama.LlamaModel;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The autoregressive loop: prefill the prompt into the KV cache, then repeatedly sample a token and feed
 * it back, until {@code maxNew} tokens, a stop token (not emitted), or the end of the cache.
 */
public final class Generator {
    private Generator() {}

    /** Beginning-of-sequence id in the LLaMA vocabularies (llama2.c stops when it samples this). */
    public static final int BOS = 1;
    /** End-of-sequence id in the LLaMA vocabularies. */
    public static final int EOS = 2;

    /**
     * Generates up to {@code maxNew} tokens after {@code prompt} (which must be non-empty; usually starts
     * with BOS), starting from an empty cache. Each new token goes to {@code onToken} as it is produced.
     *
     * @param stopTokens ids that end generation when sampled (not emitted)
     * @return the new tokens (without the prompt)
     */
    public static int[] generate(LlamaModel model, int[] prompt, int maxNew, Sampler sampler, int[] stopTokens, IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("generation needs at least one prompt token (BOS)");
        if (maxNew < 0) throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNew);
        if (prompt.length > model.maxSeq())
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens does not fit the context of " + model.maxSeq());
        int budget = Math.min(maxNew, model.maxSeq() - prompt.length + 1);
        int[] out = new int[budget];
        int n = 0;
        if (budget == 0) return out;
        float[] logits = model.prefill(prompt, 0);
        int pos = prompt.length;
        while (true) {
            int next = sampler.sample(logits);
            if (contains(stopTokens, next)) break;
            out[n++] = next;
            if (onToken != null) onToken.accept(next);
            if (n == budget) break;
            logits = model.forward(next, pos++);
        }
        return Arrays.copyOf(out, n);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }
}
