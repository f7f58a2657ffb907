package io.lowbit.examples.cli;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code lowbit bench decode}: greedy decoding speed from BOS, timed like llama2.c's run.c (from the end of
 * the first token to the end of the last), over several passes of which the median is reported. Untimed
 * warm-up passes first let the JIT compile the kernels (the JVM's counterpart of run.c being compiled ahead
 * of time).
 */
@Command(name = "decode", mixinStandardHelpOptions = true, description = "Greedy decode speed from BOS (prints decode tokens_per_s=<x>).")
public final class BenchDecodeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "llama2.c .bin file or Hugging Face checkpoint directory")
    Path checkpoint;

    @Option(names = "--tokens", defaultValue = "256", description = "tokens to decode (default ${DEFAULT-VALUE}, capped by the context)")
    int tokens;

    @Option(names = "--warmup-seconds", defaultValue = "5", description = "untimed decoding first, at least one pass unless 0 (default ${DEFAULT-VALUE})")
    double warmupSeconds;

    @Option(names = "--repeat", defaultValue = "5", description = "timed passes; the median is printed (default ${DEFAULT-VALUE})")
    int repeat;

    @Override
    public Integer call() throws Exception {
        if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
        if (tokens < 2) throw new IllegalArgumentException("--tokens must be >= 2, got " + tokens);
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            int n = Math.min(tokens, w.config().maxPositionEmbeddings());
            try (LlamaModel model = new LlamaModel(w, n)) {
                Sampler greedy = Sampler.greedy(w.config().vocabSize());
                long until = System.nanoTime() + (long) (warmupSeconds * 1e9);
                if (warmupSeconds > 0) do run(model, greedy, n); while (System.nanoTime() < until);
                double[] rates = new double[repeat];
                for (int r = 0; r < repeat; r++) {
                    long[] t = run(model, greedy, n);
                    rates[r] = (t[0] - 1) / ((t[2] - t[1]) / 1e9);
                }
                java.util.Arrays.sort(rates);
                System.out.printf("decode tokens_per_s=%.1f%n", rates[repeat / 2]);
            }
        }
        return 0;
    }

    /** Decodes n positions greedily (no stop tokens); returns {tokens, time after first, end time}. */
    private static long[] run(LlamaModel model, Sampler greedy, int n) {
        int token = Generator.BOS;
        long first = 0;
        for (int pos = 0; pos < n; pos++) {
            token = greedy.sample(model.forward(token, pos));
            if (pos == 0) first = System.nanoTime();
        }
        return new long[] {n, first, System.nanoTime()};
    }
}
