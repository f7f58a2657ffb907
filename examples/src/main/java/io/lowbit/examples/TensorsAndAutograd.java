package io.lowbit.examples;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Tensors and autograd in one page: off-heap tensors and their views, broadcasting, a {@link MemoryScope}
 * that frees temporaries, and a tiny MLP fitted to sin(x) with {@link F} ops, backward and {@link AdamW},
 * watching the {@link Allocator}'s live bytes go up and come back down.
 */
public final class TensorsAndAutograd {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "Off-heap tensors, views, broadcasting, MemoryScope; a tiny MLP fitted with F ops, backward and AdamW";

    private TensorsAndAutograd() {}

    public static void main(String[] args) {
        ExampleArgs opts = ExampleArgs.parse(args);
        int steps = opts.getInt("steps", 300);
        opts.done();
        long startBytes = Allocator.liveBytes();

        // 1. A Tensor is (shape, strides, offset) over off-heap Storage. Views share the storage: no copies.
        try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            Tensor row = a.select(0, 1);      // the second row, a view
            row.setDouble(0, 40);             // writes through to a
            Tensor at = a.t();                // transposed view: strides swap, nothing moves
            System.out.println("a       = " + a);
            System.out.println("a.t()   = shape " + Arrays.toString(at.shape()) + ", strides " + Arrays.toString(at.strides())
                    + ", contiguous " + at.isContiguous());
            Tensor col = a.narrow(1, 2, 1).expand(2, 4);  // column 2, repeated 4 times: stride 0 along dim 1
            System.out.println("a.narrow(1, 2, 1).expand(2, 4) = " + col + ", strides " + Arrays.toString(col.strides()));

            // 2. Ops return NEW tensors. Broadcasting follows NumPy: [2,3] + [3] adds the row to every row.
            //    A MemoryScope owns every tensor made inside it and frees them when it closes,
            //    except those handed out with keep().
            Tensor kept;
            try (MemoryScope scope = MemoryScope.open(); Tensor bias = Tensor.of(new float[] {100, 200, 300}, 3)) {
                Tensor shifted = a.add(bias);                  // [2,3] + [3] -> [2,3]
                Tensor colSums = shifted.sum(0, false);        // a temporary the scope will free
                System.out.printf(Locale.ROOT, "inside the scope: live %d bytes, a + bias = %s, column sums %s%n",
                        Allocator.liveBytes() - startBytes, shifted, colSums);
                kept = scope.keep(shifted.matmul(at));         // [2,3]x[3,2] survives the scope
            }
            System.out.printf(Locale.ROOT, "after the scope:  live %d bytes (a and the kept product), (a+bias)·aᵀ = %s%n",
                    Allocator.liveBytes() - startBytes, kept);
            kept.close();
        }

        // 3. Autograd: a Var is a tensor plus a gradient and the op that made it. Fit y = sin(x) on [-3, 3]
        //    with a 1-32-1 MLP: y = W2·silu(W1·x + b1) + b2. Parameters live in WEIGHTS memory.
        Rng rng = new Rng(7);
        int n = 64, hidden = 32;
        Parameter w1 = new Parameter(Tensor.normal(DType.F32, rng, 0, 1.0, hidden, 1));
        Parameter b1 = new Parameter(Tensor.zeros(DType.F32, hidden));
        Parameter w2 = new Parameter(Tensor.normal(DType.F32, rng, 0, 1.0 / Math.sqrt(hidden), 1, hidden));
        Parameter b2 = new Parameter(Tensor.zeros(DType.F32, 1));
        List<Parameter> params = List.of(w1, b1, w2, b2);
        float[] xs = new float[n], ys = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = -3f + 6f * i / (n - 1);
            ys[i] = (float) Math.sin(xs[i]);
        }
        double loss = Double.NaN;
        try (Tensor x = Tensor.of(xs, n, 1); Tensor y = Tensor.of(ys, n, 1);
             AdamW opt = new AdamW(params, 1e-2, 0.9, 0.999, 1e-8, 0.0)) {
            Var input = Var.of(x), target = Var.of(y);
            for (int step = 0; step < steps; step++) {
                // One scope per step owns every activation and saved tensor of the step.
                try (MemoryScope stepScope = MemoryScope.open()) {
                    Var pred = F.linear(F.silu(F.linear(input, w1, b1)), w2, b2);
                    Var mse = F.mseLoss(pred, target);
                    mse.backward();                 // gradients accumulate into each Parameter.grad()
                    loss = mse.item();
                    if (step == 0 || (step + 1) % 100 == 0 || step == steps - 1)
                        System.out.printf(Locale.ROOT, "step %4d  loss %.5f   live: weights %d B, grads %d B, adam %d B, activations %d B%n",
                                step + 1, loss, Allocator.liveBytes(MemoryCategory.WEIGHTS), Allocator.liveBytes(MemoryCategory.GRADIENTS),
                                Allocator.liveBytes(MemoryCategory.OPTIMIZER), Allocator.liveBytes(MemoryCategory.ACTIVATIONS));
                    opt.step();                     // AdamW moments live in OPTIMIZER memory
                    opt.zeroGrad();                 // frees the gradients
                }                                   // frees the step's activations
            }
        } finally {
            for (Parameter p : params) p.close();
        }
        System.out.printf(Locale.ROOT, "final loss %.5f%n", loss);
        System.out.printf(Locale.ROOT, "leaked bytes: %d%n", Allocator.liveBytes() - startBytes);
    }
}
