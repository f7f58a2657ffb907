package io.lowbit.models.generate;

import io.lowbit.tensor.Rng;

/**
 * Picks the next token from logits. Temperature 0 is greedy (the first index of the largest logit);
 * otherwise p = softmax(logits / T), optionally restricted to the k most likely tokens (top-k) and then to
 * the smallest most-likely set whose mass reaches top_p (nucleus sampling, Holtzman et al. 2020), renormalized,
 * and sampled with one uniform draw from a seeded {@link Rng}. Buffers are allocated once per sampler.
 */
public final class Sampler {
    private final int vocab;
    private final float temperature, topP;
    private final int topK;
    private final Rng rng;
    private final float[] probs;
    private final int[] order;

    /**
     * @param temperature 0 for greedy, else &gt; 0
     * @param topK        keep only the k most likely tokens (0 = all)
     * @param topP        nucleus mass in (0, 1] (1 = off)
     * @param seed        random stream seed
     */
    public Sampler(int vocab, double temperature, int topK, double topP, long seed) {
        if (vocab <= 0) throw new IllegalArgumentException("vocab must be positive, got " + vocab);
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        this.vocab = vocab;
        this.temperature = (float) temperature;
        this.topK = topK;
        this.topP = (float) topP;
        this.rng = new Rng(seed).fork("sampling");
        this.probs = new float[vocab];
        this.order = new int[vocab];
    }

    /** A greedy sampler. */
    public static Sampler greedy(int vocab) {
        return new Sampler(vocab, 0, 0, 1, 0);
    }

    /** The next token for {@code logits} (length ≥ vocab; not modified). */
    public int sample(float[] logits) {
        if (temperature == 0) return argmax(logits, vocab);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            probs[i] = (float) Math.exp((logits[i] - max) / temperature);
            sum += probs[i];
        }
        for (int i = 0; i < vocab; i++) probs[i] /= (float) sum;
        double coin = rng.nextDouble();
        if (topK == 0 && topP >= 1) return pick(coin);
        // candidates sorted by probability, most likely first. With top-p < 1 a token below (1 − p)/(V − 1)
        // can never be needed: all such tokens together hold less than 1 − p, so the rest reach p.
        float cutoff = topP < 1 && vocab > 1 ? (1 - topP) / (vocab - 1) : 0;
        int candidates = 0;
        for (int i = 0; i < vocab; i++) if (probs[i] >= cutoff) order[candidates++] = i;
        if (candidates == 0) for (int i = 0; i < vocab; i++) order[candidates++] = i; // rounding: keep everything
        sortDescending(order, 0, candidates - 1);
        int n = topK > 0 ? Math.min(topK, candidates) : candidates;
        double mass = 0;
        int keep = 0;
        for (; keep < n; keep++) {
            mass += probs[order[keep]];
            if (mass >= topP) {
                keep++;
                break;
            }
        }
        double target = coin * mass, acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += probs[order[i]];
            if (target < acc) return order[i];
        }
        return order[keep - 1];
    }

    private int pick(double coin) {
        double acc = 0;
        for (int i = 0; i < vocab; i++) {
            acc += probs[i];
            if (coin < acc) return i;
        }
        for (int i = vocab - 1; i >= 0; i--) if (probs[i] > 0) return i; // rounding left a sliver
        return vocab - 1;
    }

    /** Index of the largest of the first n values (the first one on ties). */
    public static int argmax(float[] x, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** In-place quicksort of indices by probs, descending; ties by smaller index first (deterministic). */
    private void sortDescending(int[] a, int lo, int hi) {
        while (lo < hi) {
            int pivot = a[(lo + hi) >>> 1], i = lo, j = hi;
            while (i <= j) {
                while (before(a[i], pivot)) i++;
                while (before(pivot, a[j])) j--;
                if (i <= j) {
                    int t = a[i];
                    a[i++] = a[j];
                    a[j--] = t;
                }
            }
            if (j - lo < hi - i) {
                sortDescending(a, lo, j);
                lo = i;
            } else {
                sortDescending(a, i, hi);
                hi = j;
            }
        }
    }

    private boolean before(int x, int y) {
        return probs[x] > probs[y] || (probs[x] == probs[y] && x < y);
    }
}
