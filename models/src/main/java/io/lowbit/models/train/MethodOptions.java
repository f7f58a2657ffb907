package io.lowbit.models.train;

import io.lowbit.quant.loqt.UpdateSchedule;

/**
 * Hyper-parameters of the pretraining methods, with the LoQT paper's defaults where it names them
 * (spec "Published defaults"). Each method reads the fields it uses and ignores the rest.
 *
 * @param rank low-rank r of adapters / projections (LoQT, LoRA, ReLoRA, GaLore)
 * @param scale s: LoQT's adapter scale (used directly, not alpha/r), LoRA's alpha/r, GaLore's scale
 * @param tau τ: base interval between LoQT update steps (ReLoRA's reset interval, GaLore's projection refresh)
 * @param psi ψ: growth of the LoQT schedule
 * @param schedule how LoQT's update intervals grow
 * @param compensationIters C: LoQT error-compensation iterations (0 = plain requantization)
 * @param quantizeProjection store LoQT's projection P in NF4 (spec default on)
 */
public record MethodOptions(int rank, double scale, int tau, double psi, UpdateSchedule.Kind schedule,
                            int compensationIters, boolean quantizeProjection) {
    public MethodOptions {
        if (rank < 1) throw new IllegalArgumentException("rank must be >= 1, got " + rank);
        if (tau < 1) throw new IllegalArgumentException("tau must be >= 1, got " + tau);
        if (compensationIters < 0) throw new IllegalArgumentException("compensation iterations must be >= 0, got " + compensationIters);
    }

    /** The 60M-row defaults of the spec with a chosen rank and τ (scaled down for short runs). */
    public static MethodOptions defaults(int rank, int tau) {
        return new MethodOptions(rank, 0.5, tau, 1.2, UpdateSchedule.Kind.EXPONENTIAL, 5, true);
    }

    /** The LoQT update-step schedule these options describe. */
    public UpdateSchedule updateSchedule() {
        return new UpdateSchedule(schedule, tau, psi);
    }
}
