package io.lowbit.quant.loqt;

import java.util.ArrayList;
import java.util.List;

/**
 * The optimizer steps at which LoQT merges its adapter into the quantized weight and re-initializes the
 * projection (spec "Schedule T"). Step 0 is always an update step, so P comes from the first batch's
 * gradient.
 *
 * <ul>
 *   <li>{@link Kind#EXPONENTIAL} (the paper's default): T = [0, τ], then t_{k+1} = t_k + τ + ⌊ψ^k⌋ for
 *       k = 1, 2, … — intervals grow slowly, so late training is disturbed less often.</li>
 *   <li>{@link Kind#LINEAR}: t_{k+1} = t_k + τ + ⌊ψ·k⌋.</li>
 *   <li>{@link Kind#STATIC}: every τ steps.</li>
 * </ul>
 */
public final class UpdateSchedule {
    /** How intervals between update steps grow. */
    public enum Kind { EXPONENTIAL, LINEAR, STATIC }

    private final Kind kind;
    private final int tau;
    private final double psi;

    /**
     * @param tau base interval τ (steps), ≥ 1
     * @param psi growth ψ (≥ 1 for exponential, ≥ 0 for linear; ignored for static)
     */
    public UpdateSchedule(Kind kind, int tau, double psi) {
        if (tau < 1) throw new IllegalArgumentException("tau must be >= 1, got " + tau);
        if (kind == Kind.EXPONENTIAL && psi < 1) throw new IllegalArgumentException("psi must be >= 1 for the exponential schedule, got " + psi);
        if (kind == Kind.LINEAR && psi < 0) throw new IllegalArgumentException("psi must be >= 0 for the linear schedule, got " + psi);
        this.kind = kind;
        this.tau = tau;
        this.psi = psi;
    }

    /** The paper's default: exponential with τ = 100, ψ = 1.2. */
    public static UpdateSchedule paperDefault() {
        return new UpdateSchedule(Kind.EXPONENTIAL, 100, 1.2);
    }

    /** All update steps t ≤ {@code lastStep}, ascending. */
    public List<Integer> steps(int lastStep) {
        List<Integer> out = new ArrayList<>();
        if (lastStep < 0) return out;
        out.add(0);
        long t = tau;
        for (int k = 1; t <= lastStep; k++) {
            out.add((int) t);
            long grow = switch (kind) {
                case EXPONENTIAL -> (long) Math.floor(Math.pow(psi, k));
                case LINEAR -> (long) Math.floor(psi * k);
                case STATIC -> 0;
            };
            t += tau + grow;
        }
        return out;
    }

    /** True if {@code step} is an update step. */
    public boolean isUpdateStep(int step) {
        List<Integer> s = steps(step);
        return !s.isEmpty() && s.get(s.size() - 1) == step;
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase() + "(tau=" + tau + (kind == Kind.STATIC ? "" : ", psi=" + psi) + ")";
    }
}
