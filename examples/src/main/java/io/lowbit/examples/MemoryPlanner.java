package io.lowbit.examples;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.Presets;
import io.lowbit.models.train.methods.MemoryPlan;
import java.util.Locale;

/**
 * How much GPU memory LLaMA pretraining needs with each method — the arithmetic behind the LoQT paper's
 * memory column (weights + optimizer states; bf16 weights and Adam states, NF4 at 0.5 byte per element,
 * spec Table 3 per matrix) and behind its claims that 7B trains on a 24 GB GPU and 13B with per-layer
 * updates. Nothing is allocated: this is the planner {@code ./lowbit memory} prints.
 */
public final class MemoryPlanner {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "LoQT vs full training memory for 60M..13B (the paper's memory column) and what fits 24 GB";

    private MemoryPlanner() {}

    public static void main(String[] args) {
        long live0 = io.lowbit.tensor.Allocator.liveBytes();
        ExampleArgs opts = ExampleArgs.parse(args);
        double gpu = opts.getInt("gpu-gib", 24);
        opts.done();

        // 1. The paper's column: weights + optimizer states, in GiB, at the paper's ranks.
        String[][] sizes = {{"60M", "128"}, {"130M", "256"}, {"350M", "256"}, {"1B", "512"}};
        System.out.println("weights + optimizer states (GiB)   full    loqt  loqt-nq  galore");
        for (String[] s : sizes) {
            LlamaConfig cfg = Presets.get(s[0]);
            int r = Integer.parseInt(s[1]);
            System.out.printf(Locale.ROOT, "%-6s r=%-4d                     %6.3f  %6.3f  %6.3f  %6.3f%n", s[0], r,
                    paper(cfg, "full", r), paper(cfg, "loqt", r), paper(cfg, "loqt-nq", r), paper(cfg, "galore", r));
        }

        // 2. The big claims: add gradients (all of them, or one layer's worth with per-layer updates).
        System.out.println();
        plan("7B", "full", false, "adamw", gpu);
        plan("7B", "loqt", false, "adamw", gpu);
        plan("13B", "loqt", false, "adamw", gpu);
        plan("13B", "loqt", true, "adamw8bit", gpu);
        System.out.println("leaked bytes: " + (io.lowbit.tensor.Allocator.liveBytes() - live0));
    }

    private static double paper(LlamaConfig cfg, String method, int rank) {
        return MemoryPlan.estimate(cfg, method, rank, false, "adamw", 0, 0).paperBytes() / MemoryPlan.GIB;
    }

    private static void plan(String preset, String method, boolean perLayer, String optimizer, double gpu) {
        MemoryPlan.Estimate e = MemoryPlan.estimate(Presets.get(preset), method, 1024, perLayer, optimizer, 0, 0);
        System.out.printf(Locale.ROOT, "%-4s %-5s %-9s %-10s total %6.2f GiB -> %s a %.0f GiB GPU%n", preset, method, optimizer,
                perLayer ? "per-layer" : "", e.totalBytes() / MemoryPlan.GIB, e.fits(gpu) ? "fits" : "does NOT fit", gpu);
    }
}
