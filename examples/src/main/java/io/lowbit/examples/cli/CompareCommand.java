package io.lowbit.examples.cli;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.LinePlot;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.TrainingMethods;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code lowbit compare}: trains each listed method from the same initialization on the same data, steps and
 * seed, then prints a table (final validation perplexity, peak memory by component, tokens/s), plots each
 * method's validation loss against step ({@code <out>/compare-val-loss.png}) and optionally writes the table as JSON.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Train several methods on the same data, steps and seed; print perplexity, memory and speed side by side.")
public final class CompareCommand implements Callable<Integer> {
    @Option(names = "--methods", defaultValue = "full", split = ",", description = "comma-separated methods (default ${DEFAULT-VALUE})")
    List<String> methods;

    @Option(names = "--out", defaultValue = "runs/compare", description = "output directory, one subdirectory per method (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--json", description = "also write the results table as JSON to this file")
    Path json;

    @Mixin
    TrainOptions opts;

    @Override
    public Integer call() throws Exception {
        for (String m : methods) { // unknown names and bad --lr values fail before any training
            TrainingMethods.create(m, opts.methodOptions()).close();
            opts.lrFor(m, methods);
        }
        Files.createDirectories(out);
        TokenizedCorpus corpus = opts.corpus(out, System.out);
        LlamaConfig config = opts.modelConfig(corpus.tokenizer().vocabSize());
        List<Trainer.Result> results = new ArrayList<>();
        LinePlot plot = new LinePlot("validation loss", "step", "loss");
        int failures = 0;
        for (String name : methods) {
            TokenDataset data = new TokenDataset(corpus.tokens(), 0.05, opts.seq, opts.seed); // same data order for every method
            Path dir = out.resolve(name);
            try (LlamaForCausalLM model = new LlamaForCausalLM(config, opts.seed);
                 TrainingMethod m = TrainingMethods.create(name, opts.methodOptions());
                 Trainer trainer = new Trainer(model, m, data, opts.trainConfig(dir, false, name, methods), System.out)) {
                Trainer.Result r = trainer.run();
                if (r.failed()) failures++;
                results.add(r);
                plot.add(name, r.metrics().series("step", "val_loss"));
            }
        }
        plot.writePng(out.resolve("compare-val-loss.png"));
        System.out.println();
        System.out.println(table(results, r -> opts.lrFor(r.method(), methods)));
        System.out.println("plot: " + out.resolve("compare-val-loss.png"));
        if (json != null) {
            List<Object> rows = new ArrayList<>();
            for (Trainer.Result r : results) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("method", r.method());
                row.put("steps", r.stepsDone());
                row.put("lr", opts.lrFor(r.method(), methods));
                row.put("val_loss", r.finalValLoss());
                row.put("val_ppl", r.finalValPerplexity());
                row.put("tokens_per_s", r.tokensPerSecond());
                Map<String, Object> mem = new LinkedHashMap<>();
                for (MemoryCategory c : MemoryReport.SHOWN) mem.put(c.name().toLowerCase(Locale.ROOT), r.memory().peak(c));
                row.put("peak_bytes", mem);
                row.put("failure", r.failure());
                rows.add(row);
            }
            AtomicFiles.writeString(json, Json.writePretty(Map.of("preset", opts.preset, "steps", opts.steps, "seed", opts.seed, "results", rows)));
            System.out.println("json: " + json);
        }
        return failures == 0 ? 0 : 1;
    }

    /** The results as an aligned text table (each method's peak lr; memory in MiB). */
    static String table(List<Trainer.Result> results, java.util.function.ToDoubleFunction<Trainer.Result> lr) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-10s %8s %9s %9s", "method", "lr", "val_ppl", "tok/s"));
        for (MemoryCategory c : MemoryReport.SHOWN) sb.append(String.format(Locale.ROOT, " %11s", c.name().toLowerCase(Locale.ROOT)));
        sb.append(String.format(Locale.ROOT, " %11s%n", "sum MiB"));
        for (Trainer.Result r : results) {
            sb.append(String.format(Locale.ROOT, "%-10s %8.1e %9.2f %9.0f", r.method(), lr.applyAsDouble(r), r.finalValPerplexity(), r.tokensPerSecond()));
            for (MemoryCategory c : MemoryReport.SHOWN) sb.append(String.format(Locale.ROOT, " %11.2f", r.memory().peak(c) / 1048576.0));
            sb.append(String.format(Locale.ROOT, " %11.2f", r.memory().total() / 1048576.0));
            if (r.failed()) sb.append("  FAILED: ").append(r.failure());
            sb.append('\n');
        }
        return sb.toString();
    }
}
