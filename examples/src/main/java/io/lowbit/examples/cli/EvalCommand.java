package io.lowbit.examples.cli;

import io.lowbit.models.quant.QuantEval;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.quant.TokenData;
import io.lowbit.models.generate.Sampler;
import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit eval}: perplexity of a float or quantized checkpoint on a data file, and optionally sampled
 * token ids — both through the quantized-model runner, which decodes packed weights on the fly.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Perplexity of (and, with --generate, samples from) a checkpoint (quantized directory, Hugging Face directory or llama2.c .bin) on --data.",
                "--data: a .ids file holds whitespace-separated token ids (e.g. from 'generate --print-ids'); any other file is UTF-8 text "
                        + "tokenized with --tokenizer (tokenizer.json or tokenizer.model) or the checkpoint directory's own tokenizer.",
                "Scored in disjoint windows of --window tokens, each from an empty cache (its first token is context only)."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "quantized or float checkpoint")
    Path checkpoint;

    @Option(names = "--data", description = ".ids token file (BOS = 1 is prepended when missing) or text file")
    Path data;

    @Option(names = "--generate", defaultValue = "0", description = "also sample this many token ids after BOS and print them (default ${DEFAULT-VALUE})")
    int generate;

    @Option(names = "--temperature", defaultValue = "1.0", description = "sampling temperature for --generate, 0 = greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--seed", defaultValue = "42", description = "sampling seed for --generate (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--tokenizer", description = "tokenizer for text data (default: the checkpoint directory's tokenizer.json or tokenizer.model)")
    Path tokenizer;

    @Option(names = "--window", defaultValue = "0", description = "window length, 0 = the model's context (default ${DEFAULT-VALUE})")
    int window;

    @Override
    public Integer call() throws Exception {
        if (data == null && generate <= 0) throw new IllegalArgumentException("nothing to do: pass --data FILE (perplexity) and/or --generate N");
        try (QuantizedLlama m = QuantizedLlama.load(checkpoint)) {
            if (generate > 0) {
                int ctx = Math.min(m.config().maxPositionEmbeddings(), generate + 1);
                try (LlamaModel run = new LlamaModel(m, ctx, 1)) {
                    int[] ids = QuantEval.generate(run, new int[] {TokenData.BOS}, generate,
                            new Sampler(m.config().vocabSize(), temperature, 0, 1.0, seed), new int[] {1, 2});
                    StringJoiner line = new StringJoiner(" ");
                    for (int id : ids) line.add(Integer.toString(id));
                    System.out.println(line);
                }
            }
            if (data == null) return 0;
            int[] ids = TokenData.read(data, tokenizer, checkpoint, m.config().vocabSize());
            int win = window > 0 ? window : m.config().maxPositionEmbeddings();
            win = Math.min(win, ids.length);
            long t0 = System.nanoTime();
            try (LlamaModel run = new LlamaModel(m, win, Math.min(win, 64))) {
                QuantEval.Result r = QuantEval.perplexity(run, ids, win);
                System.out.printf(Locale.ROOT, "%s (%s): perplexity %.4f over %d tokens (window %d, %.1f s)%n", checkpoint,
                        m.isQuantized() ? "quantized" : "float", r.perplexity(), r.tokens(), win, (System.nanoTime() - t0) / 1e9);
            }
        }
        return 0;
    }
}
