package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Dynamic loss scaling for training whose gradients are kept in reduced precision (PyTorch's
 * {@code torch.cuda.amp.GradScaler}; Micikevicius et al. 2018, "Mixed Precision Training", §3.2). Small
 * gradients underflow to zero in f16 (smallest subnormal 2⁻²⁴); multiplying the loss by a scale S shifts
 * every gradient up by S, and dividing the gradients by S before the optimizer step undoes it. When S is too
 * large some gradient overflows to ±Inf (or a NaN appears): that step is <em>skipped</em> (no optimizer update)
 * and S is multiplied by {@code backoffFactor}; after {@code growthInterval} consecutive good steps S is
 * multiplied by {@code growthFactor}. Defaults as PyTorch: S₀ = 2¹⁶, growth 2, backoff 0.5, interval 2000.
 * With power-of-two factors the scaling is exact (a multiplication by 2^k changes only the exponent), so on
 * steps without overflow or underflow the update is bit for bit that of unscaled training.
 * <pre>{@code
 * var scaler = new DynamicLossScaler();
 * scaler.scale(loss).backward();              // gradients of S·loss
 * boolean stepped = scaler.step(optimizer);    // unscale, check, step or skip, update S
 * optimizer.zeroGrad();
 * }</pre>
 * The scale and the good-step count belong in a resumable checkpoint ({@link #scale()}, {@link #goodSteps()},
 * {@link #restore}).
 */
public final class DynamicLossScaler {
    private final double growthFactor, backoffFactor;
    private final int growthInterval;
    private double scale;
    private int goodSteps;
    private long skipped;

    /** PyTorch's defaults: S₀ = 65536, growth 2, backoff 0.5, growth interval 2000 steps. */
    public DynamicLossScaler() {
        this(65536.0, 2.0, 0.5, 2000);
    }

    /**
     * @param initScale      S₀ (&gt; 0, finite)
     * @param growthFactor   S ← S·growthFactor after {@code growthInterval} good steps in a row (&gt; 1)
     * @param backoffFactor  S ← S·backoffFactor on a step with a non-finite gradient (in (0, 1))
     * @param growthInterval good steps in a row before growing (≥ 1)
     */
    public DynamicLossScaler(double initScale, double growthFactor, double backoffFactor, int growthInterval) {
        if (!(initScale > 0) || !Double.isFinite(initScale)) throw new IllegalArgumentException("initial loss scale must be > 0 and finite, got " + initScale);
        if (!(growthFactor > 1)) throw new IllegalArgumentException("growth factor must be > 1, got " + growthFactor);
        if (!(backoffFactor > 0 && backoffFactor < 1)) throw new IllegalArgumentException("backoff factor must be in (0, 1), got " + backoffFactor);
        if (growthInterval < 1) throw new IllegalArgumentException("growth interval must be >= 1, got " + growthInterval);
        this.scale = initScale;
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
    }

    /** The current scale S. */
    public double scale() {
        return scale;
    }

    /** Good steps since the last growth or backoff (PyTorch's growth tracker). */
    public int goodSteps() {
        return goodSteps;
    }

    /** Steps skipped so far because a gradient was not finite. */
    public long skippedSteps() {
        return skipped;
    }

    /** Restores the state saved from {@link #scale()} and {@link #goodSteps()} (resuming a run). */
    public void restore(double scale, int goodSteps) {
        if (!(scale > 0) || !Double.isFinite(scale)) throw new IllegalArgumentException("loss scale must be > 0 and finite, got " + scale);
        if (goodSteps < 0 || goodSteps >= growthInterval)
            throw new IllegalArgumentException("good steps " + goodSteps + " outside [0, growth interval " + growthInterval + ")");
        this.scale = scale;
        this.goodSteps = goodSteps;
    }

    /** S·loss, to call backward on. */
    public Var scale(Var loss) {
        return loss.mul(scale);
    }

    /**
     * Divides every gradient of {@code params} by S (in place) and returns true when all of them are finite.
     * Parameters without a gradient are skipped.
     */
    public boolean unscale(List<? extends Var> params) {
        boolean finite = true;
        double inv = 1.0 / scale;
        for (Var p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            g.mulInPlace(inv);
            if (finite && !allFinite(g)) finite = false;
        }
        return finite;
    }

    /**
     * Unscales the optimizer's gradients; steps the optimizer if every one is finite, else skips the step;
     * then updates S ({@link #update}). Returns whether the optimizer stepped. Gradients are left for the
     * caller to clear.
     */
    public boolean step(Optimizer optimizer) {
        boolean finite = unscale(optimizer.params());
        if (finite) optimizer.step();
        update(finite);
        return finite;
    }

    /**
     * The scale update after a step: backoff (and a skipped step) when {@code finite} is false, growth after
     * {@code growthInterval} finite steps in a row.
     */
    public void update(boolean finite) {
        if (!finite) {
            scale *= backoffFactor;
            goodSteps = 0;
            skipped++;
        } else if (++goodSteps == growthInterval) {
            double grown = scale * growthFactor;
            if (Double.isFinite(grown)) scale = grown;
            goodSteps = 0;
        }
    }

    /** True when no element of {@code t} is NaN or ±Inf. */
    public static boolean allFinite(Tensor t) {
        if (t.dtype() == DType.F32 && t.isContiguous()) {
            MemorySegment s = t.segment();
            long o = t.offset();
            for (long i = 0, n = t.numel(); i < n; i++) if (!Float.isFinite(s.getAtIndex(ValueLayout.JAVA_FLOAT, o + i))) return false;
            return true;
        }
        for (long i = 0, n = t.numel(); i < n; i++) if (!Double.isFinite(t.getDouble(i))) return false;
        return true;
    }
}
