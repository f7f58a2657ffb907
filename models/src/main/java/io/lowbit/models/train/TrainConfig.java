package io.lowbit.models.train;

import java.nio.file.Path;

/**
 * Settings of one training run shared by every method (the schedule and optimizer follow the LoQT/GaLore
 * pretraining recipe: AdamW, linear warmup then cosine decay to {@code minLrRatio}·lr, global-norm clipping).
 *
 * @param steps         optimizer steps in the whole run (the schedule's length)
 * @param microBatch    sequences per forward/backward pass
 * @param accum         micro-batches accumulated into one optimizer step (1 in per-layer mode)
 * @param lr            peak learning rate
 * @param warmupSteps   linear warmup length
 * @param minLrRatio    the cosine ends at lr·minLrRatio
 * @param weightDecay   AdamW's decoupled λ
 * @param beta1         AdamW β₁
 * @param beta2         AdamW β₂
 * @param eps           AdamW ε
 * @param optimizer     full-precision or 8-bit block-wise AdamW
 * @param perLayer      step each parameter during backward ({@link io.lowbit.autograd.optim.PerLayerOptimizer})
 * @param clipNorm      global gradient-norm clip (0 = off; impossible and ignored in per-layer mode)
 * @param checkpointing recompute each decoder block in backward (activation checkpointing)
 * @param evalEvery     validate every this many steps (0 = only at the end)
 * @param evalWindows   most validation windows used per validation (0 = all)
 * @param saveEvery     write a resumable checkpoint every this many steps (0 = only at the end; needs outDir)
 * @param logEvery      print progress every this many steps when not on a terminal
 * @param seed          seed of the method's initialization stream (model init and data order are seeded by their owners)
 * @param outDir        where checkpoints, metrics.csv and loss.png go (null = nowhere)
 * @param resume        continue from {@code outDir/checkpoint} when it exists
 */
public record TrainConfig(int steps, int microBatch, int accum, double lr, int warmupSteps, double minLrRatio, double weightDecay,
                          double beta1, double beta2, double eps, Optim optimizer, boolean perLayer, double clipNorm,
                          boolean checkpointing, int evalEvery, int evalWindows, int saveEvery, int logEvery, long seed,
                          Path outDir, boolean resume) {
    /** Which AdamW. */
    public enum Optim {
        /** {@link io.lowbit.autograd.optim.AdamW}, fp32 moments. */
        ADAMW,
        /** {@link io.lowbit.autograd.optim.AdamW8bit}, block-wise 8-bit moments. */
        ADAMW8BIT;

        /** Parses "adamw" / "adamw8bit". */
        public static Optim parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "adamw" -> ADAMW;
                case "adamw8bit", "adamw-8bit", "adam8bit" -> ADAMW8BIT;
                default -> throw new IllegalArgumentException("unknown optimizer '" + s + "'; choose adamw or adamw8bit");
            };
        }
    }

    public TrainConfig {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (microBatch < 1) throw new IllegalArgumentException("micro-batch must be >= 1, got " + microBatch);
        if (accum < 1) throw new IllegalArgumentException("accumulation steps must be >= 1, got " + accum);
        if (perLayer && accum > 1)
            throw new IllegalArgumentException("per-layer updates step each parameter during backward: no gradient accumulation (accum " + accum + ")");
        if (!(lr > 0)) throw new IllegalArgumentException("learning rate must be > 0, got " + lr);
        if (warmupSteps < 0 || warmupSteps > steps) throw new IllegalArgumentException("warmup " + warmupSteps + " must be in [0, steps = " + steps + "]");
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new IllegalArgumentException("minLrRatio must be in [0, 1], got " + minLrRatio);
        if (clipNorm < 0) throw new IllegalArgumentException("clip norm must be >= 0 (0 = off), got " + clipNorm);
        if (evalEvery < 0 || saveEvery < 0 || evalWindows < 0) throw new IllegalArgumentException("evalEvery, saveEvery and evalWindows must be >= 0");
        if (resume && outDir == null) throw new IllegalArgumentException("resume needs an output directory");
        logEvery = Math.max(1, logEvery);
    }

    /** Defaults for a short CPU run: AdamW (0.9, 0.999, 1e-8), wd 0, 10% warmup, cosine to 10%, clip 1.0. */
    public static TrainConfig defaults(int steps, int microBatch, int accum, double lr) {
        return new TrainConfig(steps, microBatch, accum, lr, Math.max(1, steps / 10), 0.1, 0.0, 0.9, 0.999, 1e-8, Optim.ADAMW, false,
                1.0, false, 0, 0, 0, 10, 42, null, false);
    }

    public TrainConfig withOutDir(Path dir, boolean resume) {
        return new TrainConfig(steps, microBatch, accum, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, eps, optimizer, perLayer,
                clipNorm, checkpointing, evalEvery, evalWindows, saveEvery, logEvery, seed, dir, resume);
    }

    public TrainConfig withOptimizer(Optim o, boolean perLayer) {
        return new TrainConfig(steps, microBatch, accum, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, eps, o, perLayer,
                clipNorm, checkpointing, evalEvery, evalWindows, saveEvery, logEvery, seed, outDir, resume);
    }

    public TrainConfig withEval(int evalEvery, int evalWindows, int saveEvery, int logEvery) {
        return new TrainConfig(steps, microBatch, accum, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, eps, optimizer, perLayer,
                clipNorm, checkpointing, evalEvery, evalWindows, saveEvery, logEvery, seed, outDir, resume);
    }

    public TrainConfig withCheckpointing(boolean on) {
        return new TrainConfig(steps, microBatch, accum, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, eps, optimizer, perLayer,
                clipNorm, on, evalEvery, evalWindows, saveEvery, logEvery, seed, outDir, resume);
    }

    public TrainConfig withSeed(long s) {
        return new TrainConfig(steps, microBatch, accum, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, eps, optimizer, perLayer,
                clipNorm, checkpointing, evalEvery, evalWindows, saveEvery, logEvery, s, outDir, resume);
    }

    /** Tokens per optimizer step for sequences of {@code seqLen}. */
    public long tokensPerStep(int seqLen) {
        return (long) microBatch * accum * seqLen;
    }
}
