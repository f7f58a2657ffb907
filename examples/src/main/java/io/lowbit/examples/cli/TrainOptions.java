package io.lowbit.examples.cli;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.Presets;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.quant.loqt.UpdateSchedule;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The options {@code pretrain} and {@code compare} share (a picocli mixin): model preset, data, batch and
 * schedule, optimizer and the methods' hyper-parameters. Defaults are sized for a ~10 minute CPU run of the
 * "small" preset (dim 256, 4 layers) on the built-in corpus.
 */
public final class TrainOptions {
    @Option(names = "--preset", defaultValue = "small", description = "model shape from Presets (default ${DEFAULT-VALUE})")
    String preset;
    @Option(names = "--vocab", description = "BPE vocabulary size trained on the corpus (default: the preset's)")
    Integer vocab;
    @Option(names = "--data", description = "UTF-8 text file to pretrain on (default: the built-in Moby-Dick corpus)")
    Path data;
    @Option(names = "--steps", defaultValue = "800", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--batch", defaultValue = "8", description = "sequences per micro-batch (default ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--accum", defaultValue = "1", description = "micro-batches per optimizer step (default ${DEFAULT-VALUE})")
    int accum;
    @Option(names = "--seq", defaultValue = "128", description = "sequence length (default ${DEFAULT-VALUE})")
    int seq;
    @Option(names = "--lr", defaultValue = "2e-3", description = "peak learning rate: one value for every method, or per method as "
            + "full=1e-3,loqt=5e-3 (a bare value in the list sets the methods not named) (default ${DEFAULT-VALUE})")
    String lr;
    @Option(names = "--warmup", description = "warmup steps (default: 10%% of --steps)")
    Integer warmup;
    @Option(names = "--min-lr-ratio", defaultValue = "0.1", description = "cosine floor as a fraction of --lr (default ${DEFAULT-VALUE})")
    double minLrRatio;
    @Option(names = "--weight-decay", defaultValue = "0.0", description = "AdamW weight decay (default ${DEFAULT-VALUE})")
    double weightDecay;
    @Option(names = "--clip", defaultValue = "1.0", description = "global gradient-norm clip, 0 = off (default ${DEFAULT-VALUE})")
    double clip;
    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or adamw8bit (default ${DEFAULT-VALUE})")
    String optimizer;
    @Option(names = "--per-layer", description = "update each parameter during backward (no accumulation, no clipping)")
    boolean perLayer;
    @Option(names = "--checkpointing", description = "recompute each decoder block in backward (less activation memory)")
    boolean checkpointing;
    @Option(names = "--eval-every", description = "validate every N steps (default: --steps / 10)")
    Integer evalEvery;
    @Option(names = "--eval-windows", defaultValue = "64", description = "validation windows per check, 0 = all (default ${DEFAULT-VALUE})")
    int evalWindows;
    @Option(names = "--save-every", defaultValue = "50", description = "resumable checkpoint every N steps, 0 = only at the end (default ${DEFAULT-VALUE})")
    int saveEvery;
    @Option(names = "--seed", defaultValue = "42", description = "seed of model init, data order and methods (default ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--rank", defaultValue = "64", description = "low-rank r of LoQT/LoRA/GaLore/ReLoRA (default ${DEFAULT-VALUE})")
    int rank;
    @Option(names = "--tau", defaultValue = "50", description = "τ: LoQT update interval / ReLoRA reset / GaLore refresh (default ${DEFAULT-VALUE})")
    int tau;
    @Option(names = "--psi", defaultValue = "1.2", description = "ψ: growth of LoQT's update intervals (default ${DEFAULT-VALUE})")
    double psi;

    /** The methods' hyper-parameters (the spec's defaults with this run's rank, τ and ψ). */
    MethodOptions methodOptions() {
        MethodOptions d = MethodOptions.defaults(rank, tau);
        return new MethodOptions(d.rank(), d.scale(), d.tau(), psi, UpdateSchedule.Kind.EXPONENTIAL, d.compensationIters(), d.quantizeProjection());
    }

    /**
     * The peak learning rate for {@code method} from {@code --lr}: "2e-3" (every method) or "full=1e-3,loqt=5e-3,2e-3"
     * (per method; the bare value, default 2e-3, covers the rest). Names that are not among {@code methods} are an error.
     */
    double lrFor(String method, java.util.List<String> methods) {
        double fallback = 2e-3;
        java.util.Map<String, Double> per = new java.util.HashMap<>();
        for (String part : lr.split(",")) {
            String p = part.strip();
            int eq = p.indexOf('=');
            String key = eq < 0 ? null : p.substring(0, eq).strip();
            if (key != null && !methods.contains(key))
                throw new IllegalArgumentException("--lr names method '" + key + "', which is not among the methods run " + methods);
            double v;
            try {
                v = Double.parseDouble(eq < 0 ? p : p.substring(eq + 1).strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--lr '" + lr + "': '" + p + "' is neither a number nor method=number");
            }
            if (!(v > 0)) throw new IllegalArgumentException("--lr '" + lr + "': learning rate must be > 0, got " + p);
            if (key == null) fallback = v;
            else per.put(key, v);
        }
        return per.getOrDefault(method, fallback);
    }

    /** The run's training settings for {@code method} (one of {@code methods}, which {@code --lr} may name). */
    TrainConfig trainConfig(Path out, boolean resume, String method, java.util.List<String> methods) {
        double lr = lrFor(method, methods);
        int w = warmup != null ? warmup : Math.max(1, steps / 10);
        int ee = evalEvery != null ? evalEvery : Math.max(1, steps / 10);
        return new TrainConfig(steps, batch, accum, lr, w, minLrRatio, weightDecay, 0.9, 0.999, 1e-8, TrainConfig.Optim.parse(optimizer),
                perLayer, perLayer ? 0 : clip, checkpointing, ee, evalWindows, saveEvery, 10, seed, out, resume);
    }

    /** The preset with the tokenizer's vocabulary and room for {@code --seq} positions. */
    LlamaConfig modelConfig(int vocabSize) {
        LlamaConfig c = Presets.get(preset).withVocabSize(vocabSize);
        return c.maxPositionEmbeddings() < seq ? c.withMaxPositionEmbeddings(seq) : c;
    }

    /** The corpus tokenized with a BPE trained on it (cached in {@code cacheDir}). */
    TokenizedCorpus corpus(Path cacheDir, PrintStream log) throws IOException {
        String text;
        if (data == null) text = TokenizedCorpus.builtInText();
        else if (!Files.isRegularFile(data)) throw new IOException(data + ": no such text file (--data)");
        else text = Files.readString(data, StandardCharsets.UTF_8);
        int v = vocab != null ? vocab : Presets.get(preset).vocabSize();
        return TokenizedCorpus.prepare(text, v, cacheDir, log);
    }
}
