package io.lowbit.quant.modulora;

import java.util.List;

/**
 * Adapter hyper-parameters: rank r, α (the update is scaled by α/r), dropout on the adapter input, and
 * the linear names to adapt (a module path matches when it ends with one of them).
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targets) {
    /** The projections of a LLaMA block. */
    public static final List<String> LLAMA_TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public LoraConfig {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
        if (!(alpha > 0)) throw new IllegalArgumentException("LoRA alpha must be > 0, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        targets = List.copyOf(targets);
        if (targets.isEmpty()) throw new IllegalArgumentException("LoRA needs at least one target module name");
    }

    /** ModuLoRA's defaults: r 8, α 16, dropout 0.05, every LLaMA projection. */
    public static LoraConfig defaults() {
        return new LoraConfig(8, 16, 0.05, LLAMA_TARGETS);
    }

    /** α/r. */
    public double scale() {
        return alpha / rank;
    }

    /** True when {@code path} (dotted) ends with one of the targets. */
    public boolean matches(String path) {
        String last = path.substring(path.lastIndexOf('.') + 1);
        return targets.contains(last);
    }
}
