package io.lowbit.examples;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.tensor.Allocator;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Generation from a real checkpoint: llama2.c's stories260K (a 260K-parameter LLaMA trained on
 * TinyStories), greedy and then nucleus (top-p) sampling, printing token ids and tokens/s. stories260K's
 * own 512-token vocabulary is not shipped, so the output is ids; the greedy ids are the ones llama2.c's
 * {@code run} prints for this checkpoint at temperature 0.
 */
public final class GenerateFromCheckpoint {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "Greedy and top-p generation from the real stories260K checkpoint, printing ids and tokens/s";

    private GenerateFromCheckpoint() {}

    public static void main(String[] args) throws Exception {
        ExampleArgs opts = ExampleArgs.parse(args);
        String file = opts.get("checkpoint", null);
        Path checkpoint = file != null ? Path.of(file) : SharedAssets.stories260K();
        int tokens = opts.getInt("tokens", 64);
        double temperature = opts.getDouble("temperature", 0.9), topP = opts.getDouble("top-p", 0.9);
        long seed = opts.getInt("seed", 42);
        opts.done();
        long startBytes = Allocator.liveBytes();

        // Checkpoints.load reads a llama2.c .bin file or a Hugging Face directory into dense F32 weights.
        try (LlamaWeights weights = Checkpoints.load(checkpoint)) {
            LlamaConfig c = weights.config();
            System.out.printf(Locale.ROOT, "%s: dim %d, %d layers, %d heads (%d kv), vocab %d, context %d%n", checkpoint.getFileName(),
                    c.hiddenSize(), c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.vocabSize(), c.maxPositionEmbeddings());
            int[] prompt = {Generator.BOS};                  // every story starts from BOS
            int[] stop = {Generator.BOS, Generator.EOS};     // llama2.c ends a story when it samples BOS
            // The model owns a KV cache sized for prompt + new tokens; it reads the weights, it does not own them.
            try (LlamaModel model = new LlamaModel(weights, Math.min(c.maxPositionEmbeddings(), prompt.length + tokens))) {
                // Warm-up: the first calls run in the interpreter until the JIT has compiled the kernels,
                // so a few untimed tokens make the tokens/s below mean something.
                Generator.generate(model, prompt, Math.min(tokens, 32), Sampler.greedy(c.vocabSize()), stop, null);
                // Greedy: always the most likely next token; deterministic.
                run("greedy", model, prompt, tokens, Sampler.greedy(c.vocabSize()), stop);
                // Top-p: sample from the smallest set of tokens whose probability mass reaches p, after dividing
                // the logits by the temperature. Seeded, so the same seed gives the same story.
                run(String.format(Locale.ROOT, "top-p %.2f, T %.2f, seed %d", topP, temperature, seed), model, prompt, tokens,
                        new Sampler(c.vocabSize(), temperature, 0, topP, seed), stop);
            }
        }
        System.out.printf(Locale.ROOT, "leaked bytes: %d%n", Allocator.liveBytes() - startBytes);
    }

    private static void run(String label, LlamaModel model, int[] prompt, int tokens, Sampler sampler, int[] stop) {
        long t0 = System.nanoTime();
        int[] ids = Generator.generate(model, prompt, tokens, sampler, stop, null);
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "%s: %d tokens, %.0f tokens/s%n  %s%n", label, ids.length, ids.length / secs,
                Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
    }
}
