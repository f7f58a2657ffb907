package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * AdamW (Loshchilov &amp; Hutter 2019, Algorithm 2) with PyTorch's update and defaults
 * (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2). For step t with gradient g:
 * <pre>
 *   θ ← θ·(1 − lr·λ)                                  decoupled weight decay
 *   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
 *   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 * </pre>
 * State per parameter: "exp_avg" (m) and "exp_avg_sq" (v) in the parameter's dtype.
 */
public class AdamW extends Optimizer {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /** Moment decay rates β₁, β₂ and the denominator's ε. */
    protected final double beta1, beta2, eps;

    /** PyTorch defaults. */
    public AdamW(List<? extends Var> params) {
        this(params, 1e-3, 0.9, 0.999, 1e-8, 1e-2);
    }

    /** One group with the given hyperparameters. */
    public AdamW(List<? extends Var> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(List.of(new ParamGroup(params, lr, weightDecay)), beta1, beta2, eps);
    }

    /** Several groups with their own lr / weight decay, shared betas and eps. */
    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps) {
        super(groups);
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1))
            throw new IllegalArgumentException("betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    /** β₁. */
    public double beta1() { return beta1; }

    /** β₂. */
    public double beta2() { return beta2; }

    /** ε. */
    public double eps() { return eps; }

    @Override
    protected void initState(Var p, State s) {
        if (!s.tensors.containsKey("exp_avg")) {
            s.zeros("exp_avg", p.dtype(), p.shape());
            s.zeros("exp_avg_sq", p.dtype(), p.shape());
        }
    }

    @Override
    protected void update(Var p, Tensor grad, ParamGroup group, State s) {
        initState(p, s);
        Tensor m = s.tensors.get("exp_avg"), v = s.tensors.get("exp_avg_sq");
        double lr = group.lr(), bc1 = 1 - Math.pow(beta1, s.step), bc2 = 1 - Math.pow(beta2, s.step);
        double decay = 1 - lr * group.weightDecay(), stepSize = lr / bc1, sqrtBc2 = Math.sqrt(bc2);
        Tensor w = p.data();
        if (w.dtype() == DType.F32 && grad.dtype() == DType.F32) {
            MemorySegment sw = w.segment(), sg = grad.segment(), sm = m.segment(), sv = v.segment();
            long wo = w.offset(), go = grad.offset(), mo = m.offset(), vo = v.offset();
            // in float, as PyTorch's float32 AdamW; lane-wise +, ×, ÷ and √ are exact, so vector and tail agree
            float b1 = (float) beta1, b2 = (float) beta2, omb1 = (float) (1 - beta1), omb2 = (float) (1 - beta2);
            float dec = (float) decay, step = (float) stepSize, sb2 = (float) sqrtBc2, ep = (float) eps;
            Parallel.range(w.numel(), 1 << 15, (lo, hi) -> {
                long i = lo;
                for (long bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
                    FloatVector g = FloatVector.fromMemorySegment(S, sg, (go + i) * 4, LE);
                    FloatVector mi = FloatVector.fromMemorySegment(S, sm, (mo + i) * 4, LE).mul(b1).add(g.mul(omb1));
                    FloatVector vi = FloatVector.fromMemorySegment(S, sv, (vo + i) * 4, LE).mul(b2).add(g.mul(g).mul(omb2));
                    mi.intoMemorySegment(sm, (mo + i) * 4, LE);
                    vi.intoMemorySegment(sv, (vo + i) * 4, LE);
                    FloatVector th = FloatVector.fromMemorySegment(S, sw, (wo + i) * 4, LE).mul(dec);
                    th.sub(mi.mul(step).div(vi.sqrt().div(sb2).add(ep))).intoMemorySegment(sw, (wo + i) * 4, LE);
                }
                for (; i < hi; i++) {
                    float g = sg.getAtIndex(F, go + i);
                    float mi = sm.getAtIndex(F, mo + i) * b1 + g * omb1;
                    float vi = sv.getAtIndex(F, vo + i) * b2 + g * g * omb2;
                    sm.setAtIndex(F, mo + i, mi);
                    sv.setAtIndex(F, vo + i, vi);
                    float th = sw.getAtIndex(F, wo + i) * dec;
                    sw.setAtIndex(F, wo + i, th - mi * step / ((float) Math.sqrt(vi) / sb2 + ep));
                }
            });
        } else {
            for (long i = 0, n = w.numel(); i < n; i++) {
                double g = grad.getDouble(i);
                double mi = beta1 * m.getDouble(i) + (1 - beta1) * g;
                double vi = beta2 * v.getDouble(i) + (1 - beta2) * g * g;
                m.setDouble(i, mi);
                v.setDouble(i, vi);
                w.setDouble(i, w.getDouble(i) * decay - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + eps));
            }
        }
    }
}
