package io.lowbit.autograd;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.nn.Activation;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Sequential;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.ClipGrad;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A small MLP learns a nonlinear task (inside/outside a circle) with no memory growth across steps. */
@ExtendWith(NoLeaks.class)
class MlpTrainingTest {

    @Test
    void mlpLearnsACircle() {
        Rng rng = new Rng(2024);
        int n = 512;
        float[] pts = new float[n * 2];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            double u = rng.nextDouble() * 2 - 1, v = rng.nextDouble() * 2 - 1;
            pts[2 * i] = (float) u;
            pts[2 * i + 1] = (float) v;
            labels[i] = u * u + v * v < 0.5 ? 1 : 0; // not linearly separable
        }
        Tensor x = Tensor.of(pts, n, 2), y = Tensor.of(labels, n);
        Rng init = rng.fork("init");
        try (Sequential model = new Sequential(new Linear(2, 32, true, init), Activation.tanh(), new Linear(32, 32, true, init),
                Activation.relu(), new Linear(32, 2, true, init));
             AdamW opt = new AdamW(model.parameters(), 2e-2, 0.9, 0.999, 1e-8, 1e-4)) {
            int steps = 300;
            LrScheduler sched = new LrScheduler(Schedule.warmupCosine(20, steps, 0.1), opt);
            long act = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
            double first = 0, last = 0;
            for (int step = 0; step < steps; step++) {
                try (MemoryScope _ = MemoryScope.open()) {
                    Var loss = F.crossEntropy(model.forward(new Var(x)), y);
                    loss.backward();
                    ClipGrad.clipGradNorm(model.parameters(), 1.0);
                    opt.step();
                    opt.zeroGrad();
                    sched.step();
                    if (step == 0) first = loss.item();
                    last = loss.item();
                }
                assertEquals(act, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "activations returned after step " + step);
                assertEquals(0, Allocator.liveBytes(MemoryCategory.GRADIENTS), "gradients freed after step " + step);
            }
            int correct = 0;
            try (MemoryScope _ = MemoryScope.open(); GradMode.Scope _ = GradMode.noGrad()) {
                int[] pred = model.forward(new Var(x)).data().argmax(1, false).toIntArray();
                for (int i = 0; i < n; i++) if (pred[i] == labels[i]) correct++;
            }
            System.out.printf("MLP circle: loss %.4f -> %.4f, accuracy %.3f%n", first, last, correct / (double) n);
            assertTrue(last < first / 5, "loss " + first + " -> " + last);
            assertTrue(correct > 0.95 * n, "accuracy " + correct + "/" + n);
        } finally {
            x.close();
            y.close();
        }
    }
}
