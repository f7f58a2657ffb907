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
 * the first token to the end of the last). One untimed warm-up pass lets the JIT compile the kernels.
 */
@Command(name = "decode", mixinStandardHelpOptions = true, description = "Greedy decode speed from BOS (prints decode tokens_per_s=<x>).")
public final class BenchDecodeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "llama2.c .bin file or Hugging Face checkpoint directory")
    Path checkpoint;

    @Option(names = "--tokens", defaultValue = "256", description = "tokens to decode (default ${DEFAULT-VALUE}, capped by the context)")
    int tokens;

    @Option(names = "--warmup", defaultValue = "1", description = "untimed passes first (default ${DEFAULT-VALUE})")
    int warmup;

    @Override
    public Integer call() throws Exception {
        if (tokens < 2) throw new IllegalArgumentException("--tokens must be >= 2, got " + tokens);
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            int n = Math.min(tokens, w.config().maxPositionEmbeddings());
            try (LlamaModel model = new LlamaModel(w, n)) {
                Sampler greedy = Sampler.greedy(w.config().vocabSize());
                for (int i = 0; i < warmup; i++) run(model, greedy, n);
                long[] t = run(model, greedy, n);
                double perS = (t[0] - 1) / ((t[2] - t[1]) / 1e9);
                System.out.printf("decode tokens_per_s=%.1f%n", perS);
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
