package io.lowbit.quant.loqt;

import io.lowbit.autograd.Function;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.Var.HookHandle;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.QuantLinear;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.loqt.Compensation.ProjectionSide;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.linalg.Svd;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One LoQT linear layer (spec "Parametrization"): W_eff = deq(Q) + s·B·A, y = x·W_effᵀ (+ b).
 *
 * <p>The fixed projection P sits on the smaller dimension ({@link ProjectionSide#forShape}): for in ≤ out
 * A = P (r×in) is fixed and B (out×r) trains; for in &gt; out B = P (out×r) is fixed and A (r×in) trains.
 * Q is NF4 (block 64, double-quantized absmax) in {@link MemoryCategory#QUANTIZED}; P is NF4 too by default;
 * the trainable factor is a full-precision {@link Parameter} counted as {@link MemoryCategory#ADAPTERS}.
 * With {@code quantize = false} this is LoQT-nq: W and P stay in full precision (any float dtype, so the
 * layer can be checked against finite differences in F64).
 *
 * <p>Forward never materializes W_eff: y = x·deq(Q)ᵀ through the tiled dequantize-matmul of
 * {@link QuantLinear} plus s·(x·Aᵀ)·Bᵀ, in a custom {@link Function} whose backward yields only
 * dL/dx and dL/d(trainable factor) — Q and P get no gradient.
 *
 * <p>Update steps (spec "Update steps"), driven by the training method for every layer:
 * {@link #beginUpdate()} (step 1: merge and temporary requantization Q' = NF4(W_fp); the layer switches to
 * full-gradient mode, in which it runs with Q' only and accumulates G = dL/dW into a side buffer), the
 * method's forward/backward over the step's batch (step 2), then {@link #finishUpdate(int, long)} (steps 3–4:
 * new P from the SVD of G, NF4(P), error compensation, G freed). {@link #registerFullGradientHook} runs code
 * as soon as a backward pass has added its contribution to G — the seam that lets a training method finish
 * each layer's update during the last backward pass, so only one layer's G exists at a time. The trainable {@link Parameter} object
 * is never replaced — only its data is overwritten — so optimizer state keyed on it survives (step 5).
 * Before the first update both factors are zero and the layer computes x·deq(Q)ᵀ. Q (or W) and P are
 * registered buffers, so {@link #stateDict()} holds everything a resumable checkpoint needs.
 */
public final class LoQTLinear extends Layer {
    /** Input and output sizes, and the effective rank r = min(rank, in, out). */
    public final int inFeatures, outFeatures, rank;
    private final double scale;
    private final ProjectionSide side;
    private final Quantizer quantizer; // null: LoQT-nq
    private final boolean quantizeProjection;
    private final DType dtype;
    private final Parameter factor;
    private final Parameter bias;

    // Q (or W) and P are buffers of fixed shape: updates copy new values into them, so they are part of
    // stateDict() (checkpoints) and are freed by Module.close() like parameters.
    private final QuantLinear q; // LoQT: NF4 Q
    private final Tensor w; // LoQT-nq: full-precision W
    private final QuantizedTensor pq; // NF4 P, or
    private final Tensor pDense; // full-precision P; all zeros before the first update
    private QuantLinear merged; // Q' = NF4(W_fp) during an update step
    private Tensor fullGrad; // G = dL/dW [out, in] accumulated in full-gradient mode
    private boolean fullGradient;
    private List<Consumer<LoQTLinear>> fullGradientHooks;

    /**
     * A LoQT layer initialized from {@code weight} [out, in] (copied, not taken over) and an optional bias
     * [out] (copied; trained normally).
     *
     * @param scale              s, used directly (not alpha/r)
     * @param quantize           NF4 for W (LoQT); false keeps W in full precision (LoQT-nq)
     * @param quantizeProjection NF4 for P (only with {@code quantize})
     */
    public LoQTLinear(Tensor weight, Tensor bias, int rank, double scale, boolean quantize, boolean quantizeProjection) {
        if (weight.dim() != 2 || !weight.dtype().floating)
            throw new IllegalArgumentException("LoQT weight must be a 2-D float tensor [out, in], got " + weight.dtype() + Arrays.toString(weight.shape()));
        if (rank < 1) throw new IllegalArgumentException("LoQT rank must be >= 1, got " + rank);
        if (!(scale != 0 && Double.isFinite(scale))) throw new IllegalArgumentException("LoQT scale s must be finite and non-zero, got " + scale);
        this.outFeatures = weight.size(0);
        this.inFeatures = weight.size(1);
        if (bias != null && (bias.dim() != 1 || bias.size(0) != outFeatures))
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " does not match weight " + Arrays.toString(weight.shape()));
        this.rank = Math.min(rank, Math.min(inFeatures, outFeatures));
        this.scale = scale;
        this.side = ProjectionSide.forShape(outFeatures, inFeatures);
        this.quantizer = quantize ? new Nf4Quantizer() : null;
        this.quantizeProjection = quantize && quantizeProjection;
        this.dtype = quantize ? DType.F32 : weight.dtype();
        int[] ps = side == ProjectionSide.INPUT ? new int[] {this.rank, inFeatures} : new int[] {outFeatures, this.rank};
        if (quantize) {
            try (Tensor w32 = weight.to(DType.F32)) {
                this.q = new QuantLinear(owned(quantizer.quantize(w32)), null);
            }
            this.w = null;
            q.weight().components().forEach((k, t) -> registerBuffer("q_" + k, t));
        } else {
            this.q = null;
            this.w = registerBuffer("weight", weight.to(dtype).label(MemoryCategory.WEIGHTS));
        }
        if (this.quantizeProjection) {
            try (Tensor z = Tensor.zeros(DType.F32, ps)) {
                this.pq = owned(quantizer.quantize(z)); // absmax 0 ⇒ dequantizes to exact zeros
            }
            this.pDense = null;
            pq.components().forEach((k, t) -> registerBuffer("p_" + k, t.label(MemoryCategory.ADAPTERS)));
        } else {
            this.pq = null;
            this.pDense = registerBuffer("projection", Tensor.zeros(dtype, MemoryCategory.ADAPTERS, ps));
        }
        int[] fs = side == ProjectionSide.INPUT ? new int[] {outFeatures, this.rank} : new int[] {this.rank, inFeatures};
        this.factor = registerParameter(side == ProjectionSide.INPUT ? "lora_B" : "lora_A", new Parameter(Tensor.zeros(dtype, fs)));
        factor.data().label(MemoryCategory.ADAPTERS);
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.to(dtype)));
    }

    private static QuantizedTensor owned(QuantizedTensor t) {
        for (Tensor c : t.components().values()) MemoryScope.escape(c);
        return t;
    }

    // ------------------------------------------------------------------ accessors

    /** The trainable factor: B (out×r) when {@link #side()} is INPUT, A (r×in) when OUTPUT. */
    public Parameter factor() { return factor; }

    /** The bias, or null. */
    public Parameter bias() { return bias; }

    /** Which side the fixed projection P is on. */
    public ProjectionSide side() { return side; }

    /** The scale s. */
    public double scale() { return scale; }

    /** True for LoQT (NF4 W), false for LoQT-nq. */
    public boolean quantized() { return quantizer != null; }

    /** True between {@link #beginUpdate()} and {@link #finishUpdate(int, long)}. */
    public boolean inFullGradientMode() { return fullGradient; }

    /** The NF4 weight Q (LoQT), or null for LoQT-nq. Owned by this layer. */
    public QuantizedTensor quantizedWeight() { return q == null ? null : q.weight(); }

    /** The NF4 projection, or null when P is kept in full precision. Owned by this layer. */
    public QuantizedTensor quantizedProjection() { return pq; }

    /** Q' = NF4(W_fp), the weight used in full-gradient mode (LoQT only; owned by this layer), or null. */
    public QuantizedTensor temporaryWeight() { return merged == null ? null : merged.weight(); }

    /** The accumulated full gradient G [out, in] in full-gradient mode (owned by this layer), or null. */
    public Tensor fullGradient() { return fullGrad; }

    /**
     * Registers {@code hook} to run in full-gradient mode right after each backward pass through this layer has
     * added its dL/dW to G (the analogue of {@link Var#registerPostAccumulateGradHook} for the side buffer G,
     * which is no Parameter). It runs inside backward, after dL/dx of this layer is computed, so it may call
     * {@link #finishUpdate} (which frees G and Q'); temporaries it allocates are freed when it returns.
     */
    public HookHandle registerFullGradientHook(Consumer<LoQTLinear> hook) {
        if (fullGradientHooks == null) fullGradientHooks = new ArrayList<>();
        fullGradientHooks.add(hook);
        return () -> fullGradientHooks.remove(hook);
    }

    /** P̃ = deq(P) as a new tensor [r, in] (INPUT) or [out, r] (OUTPUT); zero before the first update. */
    public Tensor projection() {
        return pq != null ? pq.dequantize().label(MemoryCategory.ACTIVATIONS) : pDense.copy();
    }

    /** deq(Q) (or W for LoQT-nq) as a new dense tensor [out, in]. */
    public Tensor baseWeight() {
        return q != null ? q.weight().dequantize().label(MemoryCategory.ACTIVATIONS) : w.copy();
    }

    /** W_eff = deq(Q) + s·B·A as a new dense tensor [out, in] (W_fp of update step 1). */
    public Tensor effectiveWeight() {
        Tensor base = baseWeight();
        try (MemoryScope s = MemoryScope.open(); Tensor p = projection()) {
            Tensor f = factor.data();
            base.addInPlace(side == ProjectionSide.INPUT ? f.matmul(p) : p.matmul(f), scale);
        }
        return base;
    }

    /** Bytes of the stored weight: NF4 Q (codes + scales) or the full-precision W. */
    public long weightBytes() {
        return q != null ? q.weight().bytes() : w.numel() * w.dtype().bytes;
    }

    /** Bytes of the stored projection P. */
    public long projectionBytes() {
        return pq != null ? pq.bytes() : pDense.numel() * pDense.dtype().bytes;
    }

    // ------------------------------------------------------------------ forward

    @Override
    public Var forward(Var x) {
        if (x.dim() < 1 || x.size(-1) != inFeatures)
            throw new IllegalArgumentException("LoQTLinear input " + Arrays.toString(x.shape()) + " does not end in in_features "
                    + inFeatures + " (weight [" + outFeatures + ", " + inFeatures + "])");
        Var y = fullGradient ? new FullGradientFn(this).apply(x, factor) : new AdapterFn(this).apply(x, factor);
        return bias == null ? y : F.add(y, bias);
    }

    private Tensor baseForward(Tensor x2) {
        return q != null ? q.forward(x2) : x2.matmul(w.t());
    }

    private Tensor baseBackward(Tensor g2) {
        return q != null ? q.backwardInput(g2) : g2.matmul(w);
    }

    private Tensor projectionTensor() {
        if (pq != null) return pq.dequantize().label(MemoryCategory.SCRATCH);
        return pDense.expand(pDense.shape()); // a view: closing it frees nothing
    }

    /** y = x·deq(Q)ᵀ + s·(low-rank path); gradients for x and the trainable factor only. */
    private static final class AdapterFn extends Function {
        private final LoQTLinear l;
        private int[] xShape;

        AdapterFn(LoQTLinear l) { this.l = l; }

        @Override
        protected Tensor forward(Tensor... in) {
            Tensor x = in[0], f = in[1];
            xShape = x.shape();
            int[] yShape = x.shape();
            yShape[yShape.length - 1] = l.outFeatures;
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor x2 = x.reshape(-1, l.inFeatures);
                Tensor y = l.baseForward(x2);
                Tensor p = l.projectionTensor();
                if (l.side == ProjectionSide.INPUT) { // A = P̃: y += s·(x·P̃ᵀ)·Bᵀ
                    Tensor u = x2.matmul(p.t());
                    y.addInPlace(u.matmul(f.t()), l.scale);
                    saveForBackward(sc.keep(u));
                } else { // B = P̃: y += s·(x·Aᵀ)·P̃ᵀ
                    Tensor u = x2.matmul(f.t());
                    y.addInPlace(u.matmul(p.t()), l.scale);
                    saveForBackward(sc.keep(x2));
                }
                return sc.keep(y).reshape(yShape);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            Tensor[] out = new Tensor[2];
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor g2 = g.reshape(-1, l.outFeatures);
                Tensor f = l.factor.data();
                Tensor dx = needsInputGrad(0) ? l.baseBackward(g2) : null;
                Tensor p = l.projectionTensor();
                Tensor df = null;
                if (l.side == ProjectionSide.INPUT) {
                    if (needsInputGrad(1)) df = g2.t().matmul(saved(0)).mulInPlace(l.scale); // dB = s·Gᵀ·(x·P̃ᵀ)
                    if (dx != null) dx.addInPlace(g2.matmul(f).matmul(p), l.scale); // dx += s·(G·B)·P̃
                } else {
                    Tensor gp = g2.matmul(p); // G·P̃  [n, r]
                    if (needsInputGrad(1)) df = gp.t().matmul(saved(0)).mulInPlace(l.scale); // dA = s·(G·P̃)ᵀ·x
                    if (dx != null) dx.addInPlace(gp.matmul(f), l.scale); // dx += s·(G·P̃)·A
                }
                if (dx != null) out[0] = sc.keep(dx).reshape(xShape);
                if (df != null) out[1] = sc.keep(df);
            }
            return out;
        }
    }

    /**
     * Update step 2: y = x·deq(Q')ᵀ only (adapter disabled); backward accumulates G = Gyᵀ·x into the
     * layer's side buffer and returns dL/dx. The trainable factor is an input only so the node is
     * recorded; it gets no gradient.
     */
    private static final class FullGradientFn extends Function {
        private final LoQTLinear l;
        private int[] xShape;

        FullGradientFn(LoQTLinear l) { this.l = l; }

        @Override
        protected Tensor forward(Tensor... in) {
            Tensor x = in[0];
            xShape = x.shape();
            int[] yShape = x.shape();
            yShape[yShape.length - 1] = l.outFeatures;
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor x2 = x.reshape(-1, l.inFeatures);
                Tensor y = l.merged != null ? l.merged.forward(x2) : x2.matmul(l.w.t());
                saveForBackward(sc.keep(x2));
                return sc.keep(y).reshape(yShape);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            if (!l.fullGradient)
                throw new IllegalStateException("backward through a LoQT layer whose update step already finished: the step's "
                        + "runner ran more backward passes than the full-gradient hook was told to expect");
            Tensor[] out = new Tensor[2];
            try (MemoryScope sc = MemoryScope.open()) {
                Tensor g2 = g.reshape(-1, l.outFeatures);
                Tensor x2 = saved(0);
                Tensor gw = g2.t().matmul(x2.dtype() == g2.dtype() ? x2 : x2.to(g2.dtype())); // dL/dW = Gyᵀ·x
                if (l.fullGrad == null) { // the first pass's dL/dW becomes G itself (no second [out, in] buffer)
                    l.fullGrad = MemoryScope.escape(gw.dtype() == l.dtype ? gw : gw.to(l.dtype)).label(MemoryCategory.GRADIENTS);
                } else {
                    l.fullGrad.addInPlace(gw);
                }
                if (needsInputGrad(0)) {
                    Tensor dx = l.merged != null ? l.merged.backwardInput(g2) : g2.matmul(l.w);
                    out[0] = sc.keep(dx).reshape(xShape);
                }
            }
            if (l.fullGradientHooks != null)
                for (Consumer<LoQTLinear> h : List.copyOf(l.fullGradientHooks))
                    try (MemoryScope _ = MemoryScope.open()) {
                        h.accept(l);
                    }
            return out;
        }
    }

    // ------------------------------------------------------------------ update steps

    /**
     * Update step 1: W_fp = deq(Q) + s·B·A; Q' = NF4(W_fp) becomes the layer's weight until
     * {@link #finishUpdate}, with the adapter disabled (LoQT-nq merges W_fp into W in place). The old Q and
     * factors are kept, so W_fp can be rebuilt one layer at a time in step 4 instead of being held for every
     * layer during the full-gradient pass.
     */
    public void beginUpdate() {
        if (fullGradient) throw new IllegalStateException("beginUpdate called twice without finishUpdate");
        if (quantizer != null) {
            try (Tensor wfp = effectiveWeight()) {
                merged = new QuantLinear(owned(quantizer.quantize(wfp)), null);
            }
        } else {
            try (Tensor wfp = effectiveWeight()) {
                w.copyFrom(wfp);
            }
            factor.data().fill(0); // W now holds W_fp: W_eff stays consistent even if the update is abandoned
        }
        if (fullGrad != null) {
            fullGrad.close();
            fullGrad = null;
        }
        fullGradient = true;
    }

    /** What {@link #finishUpdate} did (for logs and tests). */
    public record UpdateReport(double[] singularValues, double[] compensationErrors, int bestIteration) {}

    /**
     * Update steps 3–4: P from the top-r singular vectors of the accumulated G (right singular vectors as
     * rows for INPUT, left singular vectors as columns for OUTPUT), P ← NF4(P), P̃ = deq(P); then error
     * compensation with {@code compensationIters} iterations against W_fp rebuilt from the old Q and factors.
     * Frees G and Q', installs the new Q, P and factor (copied into the same Parameter), and leaves
     * full-gradient mode.
     *
     * @param seed seed of the randomized SVD
     */
    public UpdateReport finishUpdate(int compensationIters, long seed) {
        if (!fullGradient) throw new IllegalStateException("finishUpdate without beginUpdate");
        if (fullGrad == null)
            throw new IllegalStateException("no full gradient was accumulated for this layer: the update step's runner must run "
                    + "forward and backward through it");
        // Step 3: P from SVD(G), in double precision.
        double[] g = fullGrad.contiguous().toDoubleArray();
        fullGrad.close();
        fullGrad = null;
        Svd.Result svd = Svd.topR(g, outFeatures, inFeatures, rank, 8, 2, seed);
        double[] pArr;
        int[] pShape;
        if (side == ProjectionSide.INPUT) { // A = P: top-r right singular vectors as rows
            pArr = Arrays.copyOf(svd.vt(), rank * inFeatures);
            pShape = new int[] {rank, inFeatures};
        } else { // B = P: top-r left singular vectors as columns
            pArr = new double[outFeatures * rank];
            for (int i = 0; i < outFeatures; i++) System.arraycopy(svd.u(), i * svd.k(), pArr, i * rank, rank);
            pShape = new int[] {outFeatures, rank};
        }
        QuantizedTensor newPq = null;
        Tensor newP;
        try (Tensor p64 = Tensor.of(pArr, pShape)) {
            newP = MemoryScope.escape(p64.to(dtype)).label(MemoryCategory.SCRATCH);
        }
        Tensor pTilde = newP;
        if (quantizeProjection) { // P ← NF4(P), P̃ = deq(P)
            newPq = owned(quantizer.quantize(newP));
            pTilde = MemoryScope.escape(newPq.dequantize()).label(MemoryCategory.SCRATCH);
        }
        double[] errors;
        int best;
        try {
            if (quantizer != null) { // Step 4: error compensation
                Compensation.Result r;
                try (Tensor wfp = effectiveWeight()) {
                    r = Compensation.run(wfp, pTilde, side, scale, compensationIters, quantizer);
                }
                owned(r.quantized());
                MemoryScope.escape(r.factor());
                copyComponents(r.quantized(), q.weight());
                r.quantized().close();
                merged.close();
                merged = null;
                try (Tensor f = r.factor()) {
                    factor.data().copyFrom(f);
                }
                errors = r.errors();
                best = r.best();
            } else { // LoQT-nq: W already holds W_fp; the new factor starts at zero
                factor.data().fill(0);
                errors = new double[] {0};
                best = 0;
            }
            // install the new P (the old one was needed for W_fp above)
            if (newPq != null) copyComponents(newPq, pq);
            else pDense.copyFrom(newP);
        } finally {
            if (pTilde != newP) pTilde.close();
            newP.close();
            if (newPq != null) newPq.close();
        }
        fullGradient = false;
        return new UpdateReport(svd.s(), errors, best);
    }

    private static void copyComponents(QuantizedTensor from, QuantizedTensor to) {
        Map<String, Tensor> dst = to.components();
        for (var e : from.components().entrySet()) dst.get(e.getKey()).copyFrom(e.getValue());
    }

    /** Frees the temporaries of an unfinished update step (Q', G), if any; the layer stays usable. */
    public void releaseUpdateState() {
        if (merged != null) merged.close();
        if (fullGrad != null) fullGrad.close();
        merged = null;
        fullGrad = null;
        fullGradient = false;
    }

    /** Frees parameters, buffers (Q or W, P) and any update-step temporaries. */
    @Override
    public void close() {
        super.close();
        releaseUpdateState();
    }
}
