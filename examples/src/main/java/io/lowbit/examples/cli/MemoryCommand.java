package io.lowbit.examples.cli;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.Presets;
import io.lowbit.models.train.methods.MemoryPlan;
import io.lowbit.tensor.io.Json;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit memory --preset NAME --method M}: the training-memory breakdown of a LLaMA preset under a
 * method (weights, optimizer states, gradients, optionally activations), the LoQT paper's memory column
 * (weights + optimizer states) and whether the total fits a GPU of {@code --gpu-gb} GiB. Formulas:
 * {@link MemoryPlan}. With {@code --json} one JSON object.
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
        description = "Training-memory breakdown of a model preset under a method, and whether it fits a GPU.")
public final class MemoryCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--preset", required = true, paramLabel = "NAME", description = "Model preset (60M, 130M, 350M, 1B, 7B, 13B, ...).")
    String preset;

    @Option(names = "--method", required = true, paramLabel = "M", description = "full, loqt, loqt-nq, galore, lora or relora.")
    String method;

    @Option(names = "--rank", paramLabel = "R",
            description = "Low-rank r (default: the paper's: 128 for 60M, 256 for 130M/350M, 512 for 1B, 1024 for 7B/13B, else 128).")
    Integer rank;

    @Option(names = "--per-layer", description = "Per-layer optimizer updates: one parameter's gradient at a time.")
    boolean perLayer;

    @Option(names = "--optimizer", paramLabel = "OPT", defaultValue = "adamw", description = "adamw (bf16 states) or adamw8bit (default ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "0", description = "Sequences per micro-batch for the activation estimate, 0 = none (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq", paramLabel = "T", defaultValue = "0", description = "Sequence length for the activation estimate, 0 = none (default ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--gpu-gb", paramLabel = "G", defaultValue = "24", description = "GPU memory in GiB (default ${DEFAULT-VALUE}).")
    double gpuGb;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    /** The LoQT paper's rank for a preset (spec "Published defaults"; 7B/13B: 1024, our assumption). */
    static int defaultRank(String preset) {
        String p = preset.toUpperCase(Locale.ROOT);
        if (p.startsWith("LLAMA-")) p = p.substring(6); // llama-7b is the 7B preset
        return switch (p) {
            case "60M" -> 128;
            case "130M", "350M" -> 256;
            case "1B" -> 512;
            case "7B", "13B" -> 1024;
            default -> 128;
        };
    }

    @Override
    public Integer call() {
        LlamaConfig cfg = Presets.get(preset);
        int r = rank != null ? rank : defaultRank(preset);
        MemoryPlan.Estimate e = MemoryPlan.estimate(cfg, method, r, perLayer, optimizer, batch, seq);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(e.toJson(preset, gpuGb)));
        } else {
            out.printf(Locale.ROOT, "memory: preset %s (%.2fB params), method %s, rank %d, optimizer %s%s%n", preset,
                    cfg.parameterCount() / 1e9, method, r, optimizer, perLayer ? ", per-layer updates" : "");
            out.printf(Locale.ROOT, "  weights       %9.3f GiB%n", e.weightsBytes() / MemoryPlan.GIB);
            out.printf(Locale.ROOT, "  optimizer     %9.3f GiB%n", e.optimizerBytes() / MemoryPlan.GIB);
            out.printf(Locale.ROOT, "  gradients     %9.3f GiB%s%n", e.gradientsBytes() / MemoryPlan.GIB, perLayer ? "  (largest single parameter)" : "");
            if (batch > 0 && seq > 0)
                out.printf(Locale.ROOT, "  activations   %9.3f GiB  (batch %d x seq %d, estimate)%n", e.activationsBytes() / MemoryPlan.GIB, batch, seq);
            else
                out.println("  activations   not estimated (give --batch and --seq)");
            out.printf(Locale.ROOT, "  paper column  %9.3f GiB  (weights + optimizer states)%n", e.paperBytes() / MemoryPlan.GIB);
            out.printf(Locale.ROOT, "  total         %9.3f GiB  -> %s a %.0f GiB GPU%n", e.totalBytes() / MemoryPlan.GIB,
                    e.fits(gpuGb) ? "fits" : "does NOT fit", gpuGb);
        }
        out.flush();
        return 0;
    }
}
