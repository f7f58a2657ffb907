package io.lowbit.examples.cli;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code lowbit generate}: samples a continuation from a llama2.c {@code .bin} file or a Hugging Face
 * checkpoint directory, starting from BOS. This build has no tokenizer, so output is token ids.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate tokens from a checkpoint (llama2.c .bin or Hugging Face directory), starting from BOS.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "llama2.c .bin file or Hugging Face checkpoint directory")
    Path checkpoint;

    @Option(names = "--tokenizer", description = "tokenizer file (not available in this build: output is token ids)")
    Path tokenizer;

    @Option(names = "--prompt", description = "prompt text (needs --tokenizer)")
    String prompt;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 = greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.9", description = "nucleus mass in (0, 1], 1 = off (default ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 = off (default ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--seed", defaultValue = "42", description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-tokens", defaultValue = "256", description = "most tokens to generate (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--print-ids", description = "print the generated token ids (without BOS) on one line")
    boolean printIds;

    @Override
    public Integer call() throws Exception {
        if (tokenizer != null)
            throw new IllegalArgumentException("--tokenizer: this build has no tokenizer; generate token ids with --print-ids");
        if (prompt != null) throw new IllegalArgumentException("--prompt needs --tokenizer (text cannot be turned into ids without one)");
        if (maxTokens < 0) throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            int[] promptIds = {Generator.BOS};
            int ctx = (int) Math.min(w.config().maxPositionEmbeddings(), (long) promptIds.length + maxTokens);
            Sampler sampler = new Sampler(w.config().vocabSize(), temperature, topK, topP, seed);
            try (LlamaModel model = new LlamaModel(w, Math.max(1, ctx))) {
                int[] ids = Generator.generate(model, promptIds, maxTokens, sampler, new int[] {Generator.BOS, Generator.EOS}, null);
                StringJoiner line = new StringJoiner(" ");
                for (int id : ids) line.add(Integer.toString(id));
                System.out.println(line);
            }
        }
        return 0;
    }
}
