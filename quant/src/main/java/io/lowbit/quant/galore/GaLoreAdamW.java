package io.lowbit.quant.galore;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.linalg.Svd;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * GaLore (Zhao et al. 2024; specs/baselines.md): AdamW whose moments for selected 2-D weights live in a
 * low-rank projected space. For a projected weight W (m×n) with gradient G:
 * <pre>
 *   every τ steps (steps 1, τ+1, 2τ+1, …):  P = top-r singular vectors of G on the smaller side
 *        m ≤ n: P = U[:, :r] (m×r), R = Pᵀ·G (r×n);   m &gt; n: P = V[:, :r] (n×r), R = G·P (m×r)
 *   M ← β₁·M + (1 − β₁)·R,   V ← β₂·V + (1 − β₂)·R²            (states r×max(m, n))
 *   N = (M / (1 − β₁ᵗ)) / (√(V / (1 − β₂ᵗ)) + ε)
 *   W ← W·(1 − lr·λ) − lr·α·(P·N  or  N·Pᵀ)
 * </pre>
 * Moments are kept when P is refreshed (as in the GaLore reference). Every other parameter gets plain
 * {@link AdamW}. State of a projected parameter: "galore_proj" (P), "exp_avg" (M), "exp_avg_sq" (V), all
 * {@link MemoryCategory#OPTIMIZER}, in {@link #stateDict()} under the parameter's index like AdamW's.
 */
public class GaLoreAdamW extends AdamW {
    private final Set<Var> projected = Collections.newSetFromMap(new IdentityHashMap<>());
    private final int rank, updateGap;
    private final double scale;
    private final long seed;
    private final Map<Var, Low> low = new IdentityHashMap<>();

    private static final class Low {
        Tensor proj, m, v;
        boolean left; // m ≤ n: P on the left
    }

    /**
     * @param projected the 2-D weights whose states are projected (each must be in {@code groups})
     * @param rank      r
     * @param updateGap τ: steps between projection refreshes
     * @param scale     α
     * @param seed      seed of the randomized SVD
     */
    public GaLoreAdamW(List<ParamGroup> groups, double beta1, double beta2, double eps, List<? extends Var> projected,
                       int rank, int updateGap, double scale, long seed) {
        super(groups, beta1, beta2, eps);
        if (rank < 1) throw new IllegalArgumentException("GaLore rank must be >= 1, got " + rank);
        if (updateGap < 1) throw new IllegalArgumentException("GaLore update gap must be >= 1, got " + updateGap);
        Set<Var> all = Collections.newSetFromMap(new IdentityHashMap<>());
        all.addAll(params());
        for (Var p : projected) {
            if (!all.contains(p)) throw new IllegalArgumentException("projected parameter is not in the optimizer's groups: " + p);
            if (p.dim() != 2) throw new IllegalArgumentException("GaLore projects 2-D weights only, got " + Arrays.toString(p.shape()));
            this.projected.add(p);
        }
        this.rank = rank;
        this.updateGap = updateGap;
        this.scale = scale;
        this.seed = seed;
    }

    /** True when {@code p}'s states are low-rank projected. */
    public boolean isProjected(Var p) {
        return projected.contains(p);
    }

    /** The current projection of {@code p} (live), or null before its first step. */
    public Tensor projection(Var p) {
        Low l = low.get(p);
        return l == null ? null : l.proj;
    }

    private Low low(Var p) {
        return low.computeIfAbsent(p, k -> {
            int m = p.size(0), n = p.size(1), r = Math.min(rank, Math.min(m, n));
            Low l = new Low();
            l.left = m <= n;
            l.proj = zeros(l.left ? new int[] {m, r} : new int[] {n, r});
            l.m = zeros(l.left ? new int[] {r, n} : new int[] {m, r});
            l.v = zeros(l.m.shape());
            return l;
        });
    }

    private static Tensor zeros(int[] shape) {
        return MemoryScope.escape(Tensor.zeros(DType.F32, MemoryCategory.OPTIMIZER, shape));
    }

    @Override
    protected void initState(Var p, State s) {
        if (projected.contains(p)) low(p);
        else super.initState(p, s);
    }

    @Override
    protected void update(Var p, Tensor grad, ParamGroup group, State s) {
        if (!projected.contains(p)) {
            super.update(p, grad, group, s);
            return;
        }
        Low l = low(p);
        int m = p.size(0), n = p.size(1), r = l.proj.size(1);
        try (MemoryScope sc = MemoryScope.open()) {
            Tensor g = grad.dtype() == DType.F32 ? grad : grad.to(DType.F32);
            if ((s.step() - 1) % updateGap == 0) { // refresh P from the SVD of this step's gradient
                Svd.Result svd = Svd.topR(g.contiguous().toDoubleArray(), m, n, r, 8, 2, seed + s.step());
                double[] pArr = new double[(l.left ? m : n) * r];
                if (l.left) for (int i = 0; i < m; i++) System.arraycopy(svd.u(), i * svd.k(), pArr, i * r, r);
                else for (int j = 0; j < n; j++) for (int c = 0; c < r; c++) pArr[j * r + c] = svd.vt()[c * n + j];
                l.proj.copyFrom(Tensor.of(pArr, l.proj.shape()));
            }
            Tensor rg = l.left ? l.proj.t().matmul(g) : g.matmul(l.proj); // R = Pᵀ·G or G·P
            double bc1 = 1 - Math.pow(beta1, s.step()), bc2 = 1 - Math.pow(beta2, s.step());
            l.m.mulInPlace(beta1).addInPlace(rg, 1 - beta1);
            l.v.mulInPlace(beta2).addInPlace(rg.square(), 1 - beta2);
            Tensor nrm = l.m.mul(1 / bc1).div(l.v.mul(1 / bc2).sqrt().add(eps)); // N = Adam(R)
            Tensor dw = l.left ? l.proj.matmul(nrm) : nrm.matmul(l.proj.t()); // P·N or N·Pᵀ
            Tensor wdat = p.data();
            wdat.mulInPlace(1 - group.lr() * group.weightDecay());
            wdat.addInPlace(dw.dtype() == wdat.dtype() ? dw : dw.to(wdat.dtype()), -group.lr() * scale);
        }
    }

    @Override
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(super.stateDict());
        List<Var> all = params();
        for (int i = 0; i < all.size(); i++) {
            Low l = low.get(all.get(i));
            if (l == null) continue;
            out.put(i + ".galore_proj", l.proj);
            out.put(i + ".exp_avg", l.m);
            out.put(i + ".exp_avg_sq", l.v);
        }
        return out;
    }

    @Override
    public void loadStateDict(Map<String, Tensor> tensors, Map<Integer, Long> steps) {
        List<Var> all = params();
        Map<String, Tensor> rest = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            String k = e.getKey();
            int dot = k.indexOf('.');
            int idx = -1;
            try {
                idx = Integer.parseInt(k.substring(0, Math.max(dot, 0)));
            } catch (NumberFormatException ex) {
                // not an indexed key: the base class reports it
            }
            if (idx >= 0 && idx < all.size() && projected.contains(all.get(idx))) {
                Low l = low(all.get(idx));
                Tensor dst = switch (k.substring(dot + 1)) {
                    case "galore_proj" -> l.proj;
                    case "exp_avg" -> l.m;
                    case "exp_avg_sq" -> l.v;
                    default -> throw new IllegalArgumentException("unexpected GaLore state key '" + k + "'");
                };
                if (!Arrays.equals(dst.shape(), e.getValue().shape()))
                    throw new IllegalArgumentException("GaLore state '" + k + "': checkpoint " + Arrays.toString(e.getValue().shape())
                            + " vs optimizer " + Arrays.toString(dst.shape()));
                dst.copyFrom(e.getValue());
            } else {
                rest.put(k, e.getValue());
            }
        }
        super.loadStateDict(rest, steps);
    }

    @Override
    public void close() {
        super.close();
        for (Low l : low.values()) {
            l.proj.close();
            l.m.close();
            l.v.close();
        }
        low.clear();
    }
}
