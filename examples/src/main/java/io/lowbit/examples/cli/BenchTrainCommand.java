package io.lowbit.examples.cli;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code lowbit bench train}: full-precision training speed of a LLaMA (forward, backward and an AdamW update
 * per step, random tokens), the same model, batch and step as {@code bench/peers/torch_train.py}. Warm-up steps
 * run first (JIT compilation); the timed steps print {@code train tokens_per_s=<x>} and the share of time spent in
 * forward, backward and the optimizer.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Full-precision training speed: forward + backward + AdamW step (prints train tokens_per_s=<x>).")
public final class BenchTrainCommand implements Callable<Integer> {
    @Option(names = "--dim", defaultValue = "256", description = "hidden size (default ${DEFAULT-VALUE})")
    int dim;
    @Option(names = "--layers", defaultValue = "4", description = "decoder blocks (default ${DEFAULT-VALUE})")
    int layers;
    @Option(names = "--heads", defaultValue = "8", description = "query heads (default ${DEFAULT-VALUE})")
    int heads;
    @Option(names = "--kv-heads", defaultValue = "4", description = "key/value heads (default ${DEFAULT-VALUE})")
    int kvHeads;
    @Option(names = "--ffn", defaultValue = "688", description = "SwiGLU hidden size (default ${DEFAULT-VALUE})")
    int ffn;
    @Option(names = "--vocab", defaultValue = "2048", description = "vocabulary size (default ${DEFAULT-VALUE})")
    int vocab;
    @Option(names = "--seq", defaultValue = "256", description = "sequence length (default ${DEFAULT-VALUE})")
    int seq;
    @Option(names = "--batch", defaultValue = "8", description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--steps", defaultValue = "10", description = "timed steps (default ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--warmup", defaultValue = "10", description = "untimed warm-up steps, for the JIT compiler (default ${DEFAULT-VALUE})")
    int warmup;
    @Option(names = "--checkpointing", description = "recompute each block in backward (activation checkpointing)")
    boolean checkpointing;

    @Override
    public Integer call() {
        if (steps < 1 || warmup < 0) throw new IllegalArgumentException("--steps must be >= 1 and --warmup >= 0");
        if (heads < 1 || dim % heads != 0) throw new IllegalArgumentException("--heads " + heads + " must divide --dim " + dim);
        // untied head, like the PyTorch peer
        LlamaConfig c = LlamaConfig.of(dim, ffn, heads, kvHeads, layers, vocab, seq, 1e-6, 10000, false);
        Rng data = new Rng(0);
        try (LlamaForCausalLM model = new LlamaForCausalLM(c, 0).gradientCheckpointing(checkpointing);
             AdamW opt = new AdamW(model.parameters(), 1e-3, 0.9, 0.999, 1e-8, 1e-2)) {
            long fwd = 0, bwd = 0, upd = 0, t0 = 0;
            for (int i = 0; i < warmup + steps; i++) {
                if (i == warmup) {
                    fwd = bwd = upd = 0;
                    t0 = System.nanoTime();
                }
                int[] x = new int[batch * seq], y = new int[batch * seq];
                for (int j = 0; j < x.length; j++) {
                    x[j] = data.nextInt(vocab);
                    y[j] = data.nextInt(vocab);
                }
                long a = System.nanoTime();
                try (MemoryScope _ = MemoryScope.open(); Tensor xs = Tensor.of(x, batch, seq); Tensor ys = Tensor.of(y, batch, seq)) {
                    Var loss = model.loss(xs, ys);
                    long b = System.nanoTime();
                    loss.backwardAndRelease();
                    long d = System.nanoTime();
                    opt.step();
                    opt.zeroGrad();
                    long e = System.nanoTime();
                    fwd += b - a;
                    bwd += d - b;
                    upd += e - d;
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            double total = fwd + bwd + upd;
            System.out.printf(Locale.ROOT, "train tokens_per_s=%.1f%n", (double) batch * seq * steps / secs);
            System.out.printf(Locale.ROOT, "  per step %.1f ms: forward %.0f%%, backward %.0f%%, optimizer %.0f%% (%d params)%n",
                    secs * 1000 / steps, 100 * fwd / total, 100 * bwd / total, 100 * upd / total, model.numParameters());
        }
        return 0;
    }
}
