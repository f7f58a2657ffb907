package io.lowbit.autograd;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * Finite-difference gradient check in double precision, for tests of any op or block.
 *
 * <p>For a function {@code y = f(x_1, ..., x_n)} and a fixed random projection {@code R} of the output's
 * shape, the scalar {@code L = Σ y·R} is differentiated two ways: by backward with output gradient
 * {@code R}, and by central differences {@code (L(x+h) − L(x−h)) / 2h} for every element of every input
 * that requires grad. Inputs must be F64 (F32 differences are too noisy to check anything). An element
 * passes when {@code |analytic − numeric| ≤ atol + rtol·|numeric|}.
 * <pre>{@code
 * Var x = Var.param(Tensor.normal(DType.F64, rng, 0, 1, 3, 5));
 * GradCheck.assertGradients(in -> F.rmsNorm(in[0], in[1], 1e-6), x, w);
 * }</pre>
 * The inputs' data is perturbed in place and restored; their gradients are cleared before and after.
 */
public final class GradCheck {
    private GradCheck() {}

    /** The function under test. */
    @FunctionalInterface
    public interface Fn {
        /** Computes the output to check from the inputs. */
        Var apply(Var... inputs);
    }

    /** Outcome: largest violation ratio, and a description of the worst element. */
    public record Result(double worstRatio, double maxAbsError, String worst, int checked) {
        /** True when every element was within tolerance. */
        public boolean passed() {
            return worstRatio <= 1.0;
        }
    }

    /** Checks with h = 1e-6, atol = 1e-6, rtol = 1e-5 and throws {@link AssertionError} on failure. */
    public static Result assertGradients(Fn f, Var... inputs) {
        return assertGradients(f, 1e-6, 1e-6, 1e-5, inputs);
    }

    /** Checks with the given step and tolerances and throws {@link AssertionError} on failure. */
    public static Result assertGradients(Fn f, double h, double atol, double rtol, Var... inputs) {
        Result r = check(f, h, atol, rtol, inputs);
        if (!r.passed()) throw new AssertionError("gradient check failed: " + r.worst());
        return r;
    }

    /** Runs the check and reports (does not throw on mismatch). */
    public static Result check(Fn f, double h, double atol, double rtol, Var... inputs) {
        boolean any = false;
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i].dtype() != DType.F64 && inputs[i].requiresGrad())
                throw new IllegalArgumentException("GradCheck input " + i + " is " + inputs[i].dtype() + "; use F64");
            any |= inputs[i].requiresGrad();
            inputs[i].zeroGrad();
        }
        if (!any) throw new IllegalArgumentException("GradCheck: no input requires grad");
        double worstRatio = 0, maxAbs = 0;
        String worst = "all elements within tolerance";
        int checked = 0;
        try (MemoryScope _ = MemoryScope.open(); GradMode.Scope _ = GradMode.enableGrad()) {
            Var out = f.apply(inputs);
            if (out.dtype() != DType.F64) throw new IllegalArgumentException("GradCheck: output is " + out.dtype() + "; use F64 inputs");
            Tensor r = Tensor.normal(DType.F64, new Rng(0x5EED), 0, 1, out.shape());
            out.backward(r);
            for (int i = 0; i < inputs.length; i++) {
                Var x = inputs[i];
                if (!x.requiresGrad()) continue;
                Tensor data = x.data();
                Tensor grad = x.grad();
                for (long j = 0, n = data.numel(); j < n; j++) {
                    double analytic = grad == null ? 0 : grad.getDouble(j);
                    double orig = data.getDouble(j);
                    data.setDouble(j, orig + h);
                    double lp = projected(f, inputs, r);
                    data.setDouble(j, orig - h);
                    double lm = projected(f, inputs, r);
                    data.setDouble(j, orig);
                    double numeric = (lp - lm) / (2 * h);
                    double err = Math.abs(analytic - numeric);
                    double ratio = err / (atol + rtol * Math.abs(numeric));
                    if (Double.isNaN(ratio)) ratio = Double.POSITIVE_INFINITY;
                    maxAbs = Math.max(maxAbs, err);
                    checked++;
                    if (ratio > worstRatio) {
                        worstRatio = ratio;
                        worst = "input " + i + " " + Arrays.toString(data.shape()) + " element " + j + ": analytic "
                                + analytic + " vs numeric " + numeric + " (|diff| " + err + ")";
                    }
                }
            }
        } finally {
            for (Var x : inputs) x.zeroGrad();
        }
        return new Result(worstRatio, maxAbs, worst, checked);
    }

    private static double projected(Fn f, Var[] inputs, Tensor r) {
        try (MemoryScope _ = MemoryScope.open(); GradMode.Scope _ = GradMode.noGrad()) {
            Tensor y = f.apply(inputs).data();
            double sum = 0;
            for (long k = 0, n = y.numel(); k < n; k++) sum += y.getDouble(k) * r.getDouble(k);
            return sum;
        }
    }
}
