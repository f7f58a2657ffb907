package io.lowbit.examples.cli;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.TrainingMethods;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code lowbit pretrain}: trains a LLaMA from scratch with one method ({@link TrainingMethods}) on a corpus
 * tokenized by a BPE trained on it, then prints validation perplexity and the memory breakdown and writes a
 * Hugging Face checkpoint ({@code config.json}, {@code model.safetensors}, {@code tokenizer.json}) that
 * {@code lowbit generate} loads. Resumable checkpoints, {@code metrics.csv} and {@code loss.png} go to the
 * same directory.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = "Pretrain a LLaMA from scratch (default: the 'small' preset on the built-in corpus, about 10 minutes on 2 cores).")
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--method", defaultValue = "loqt", description = "training method: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE})",
            completionCandidates = MethodNames.class)
    String method;

    @Option(names = "--out", defaultValue = "runs/pretrain", description = "output directory (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--resume", description = "continue from <out>/checkpoint")
    boolean resume;

    @Mixin
    TrainOptions opts;

    /** The registered method names, for --help. */
    static final class MethodNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return TrainingMethods.names().iterator();
        }
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        TokenizedCorpus corpus = opts.corpus(out, System.out);
        LlamaConfig config = opts.modelConfig(corpus.tokenizer().vocabSize());
        TokenDataset data = new TokenDataset(corpus.tokens(), 0.05, opts.seq, opts.seed);
        var cfg = opts.trainConfig(out, resume, method, java.util.List.of(method));
        System.out.printf(Locale.ROOT, "pretrain %s: preset %s (%,d parameters), %,d training / %,d validation tokens, %d steps of %,d tokens%n",
                method, opts.preset, config.parameterCount(), data.trainTokens(), data.validTokens(), cfg.steps(), cfg.tokensPerStep(opts.seq));
        try (LlamaForCausalLM model = new LlamaForCausalLM(config, opts.seed);
             TrainingMethod m = TrainingMethods.create(method, opts.methodOptions());
             Trainer trainer = new Trainer(model, m, data, cfg, System.out)) {
            Trainer.Result r = trainer.run();
            if (r.failed()) {
                System.out.println("training failed: " + r.failure());
                return 1;
            }
            System.out.printf(Locale.ROOT, "%s: validation loss %.4f, perplexity %.2f after %d steps; %.0f tokens/s%n",
                    method, r.finalValLoss(), r.finalValPerplexity(), r.stepsDone(), r.tokensPerSecond());
            System.out.print(r.memory().format());
            m.mergeForExport(model);
            try {
                model.save(out);
            } catch (IllegalStateException e) { // a method whose layers cannot be written as plain HF weights
                System.out.println("no Hugging Face export: " + e.getMessage() + "; " + out.resolve("checkpoint") + " holds the trained state");
                return 0;
            }
            System.out.println("checkpoint: " + out + " (config.json, model.safetensors, tokenizer.json); metrics.csv, loss.png");
            System.out.println("try: ./lowbit generate --checkpoint " + out + " --tokenizer " + out.resolve("tokenizer.json")
                    + " --prompt \"Call me\"");
        }
        return 0;
    }
}
