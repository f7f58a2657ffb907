package io.lowbit.models.robust;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.TrainingMethods;
import io.lowbit.tensor.Rng;
import java.nio.file.Path;

/**
 * The training process {@link KillResumeTest} starts, kills and restarts: a tiny LLaMA (dim 16, 2 layers, vocab 24)
 * trained on a learnable pattern with a checkpoint every {@code saveEvery} steps into {@code outDir}, always
 * resuming from the checkpoint there when one exists. Arguments: {@code outDir method steps saveEvery}. Prints
 * {@code start step N} (the step it begins at) and {@code done N} at the end. Run with
 * {@code -Dlowbit.crashPoint=NAME@n} it stops at that {@link io.lowbit.tensor.io.CrashPoint} to be killed.
 */
public final class TrainChild {
    static final LlamaConfig TINY = LlamaConfig.of(16, 32, 2, 1, 2, 24, 16, 1e-5, 10000, true);

    private TrainChild() {}

    /** A period-9 pattern with every 7th token random (the corpus of TrainerTest). */
    static int[] corpus() {
        int[] pattern = {3, 7, 1, 9, 4, 4, 12, 20, 5};
        Rng r = new Rng(99);
        int[] t = new int[3000];
        for (int i = 0; i < t.length; i++) t[i] = i % 7 == 6 ? r.nextInt(24) : pattern[i % 9];
        return t;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) throw new IllegalArgumentException("usage: TrainChild outDir method steps saveEvery");
        Path out = Path.of(args[0]);
        int steps = Integer.parseInt(args[2]), saveEvery = Integer.parseInt(args[3]);
        TrainConfig cfg = TrainConfig.defaults(steps, 2, 1, 1e-2).withEval(0, 8, saveEvery, 1000).withOutDir(out, true);
        try (LlamaForCausalLM model = new LlamaForCausalLM(TINY, 1);
             TrainingMethod method = TrainingMethods.create(args[1], MethodOptions.defaults(4, 5));
             Trainer t = new Trainer(model, method, new TokenDataset(corpus(), 0.1, 8, 5), cfg, System.out)) {
            System.out.println("start step " + t.step());
            Trainer.Result r = t.run();
            if (r.failed()) throw new IllegalStateException(r.failure());
            System.out.println("done " + r.stepsDone());
        }
    }
}
