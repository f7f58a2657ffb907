package io.lowbit.models.train.methods;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.models.train.MethodOptions;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.loqt.LoQTLinear;
import io.lowbit.quant.loqt.UpdateSchedule;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoQT and LoQT-nq (spec "LoQT"): every q/k/v/o/gate/up/down linear becomes a {@link LoQTLinear}
 * (NF4 Q plus fixed projection P and trainable factor; LoQT-nq keeps W and P in full precision); embeddings,
 * LM head and norms train normally.
 *
 * <p>At every update step t ∈ T ({@link UpdateSchedule}; step 0 is one) {@link #beforeStep} performs the
 * spec's "Update steps" and returns true, so the trainer does no optimizer step (step 5: the paper-era code
 * skipped it; the trainable factor's Parameter object — hence its optimizer state — is kept):
 * <ol>
 *   <li>every layer merges W_fp = deq(Q) + s·B·A and switches to Q' = NF4(W_fp) with its adapter disabled;</li>
 *   <li>the step's whole batch runs forward/backward through the runner, each layer accumulating
 *       G = dL/dW; all other parameters are frozen for this pass, so no other gradient is allocated (and a
 *       per-layer optimizer hook cannot fire);</li>
 *   <li>–4. per layer: P from SVD(G), NF4(P), error compensation with C iterations, then G, Q' and the rebuilt
 *       W_fp are freed.</li>
 * </ol>
 * When the runner declares its micro-batch count ({@link StepRunner#microBatches()}; the {@link
 * io.lowbit.models.train.Trainer}'s does), steps 3–4 of a layer run inside the last backward pass, from a
 * {@link LoQTLinear#registerFullGradientHook full-gradient hook}, the moment that layer's G is complete — so
 * with one micro-batch only one layer's G exists at a time (spec step 2: "one layer's worth at a time"), as
 * in the paper's per-layer mode. With several micro-batches every layer's G must accumulate over the first
 * ones, so all layers' G coexist until the last pass, which then still finishes and frees them one by one.
 * Runners that do not declare a count get steps 3–4 after the pass, layer by layer; both orders give the
 * same bits, because each layer's update reads only its own G, Q, P and factor, and its own SVD seed.
 */
public final class LoQTTraining implements TrainingMethod {
    private final MethodOptions options;
    private final boolean quantize;
    private final UpdateSchedule schedule;
    private final Map<String, LoQTLinear> layers = new LinkedHashMap<>();
    private final List<LoQTLinear.UpdateReport> lastReports = new ArrayList<>();
    private int updates;
    private Module model;

    /** LoQT ({@code quantize}) or LoQT-nq. */
    public LoQTTraining(MethodOptions options, boolean quantize) {
        this.options = options;
        this.quantize = quantize;
        this.schedule = options.updateSchedule();
    }

    @Override
    public String name() {
        return quantize ? "loqt" : "loqt-nq";
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException(name() + ": prepare called twice");
        this.model = model;
        for (var e : AdaptedLayers.find(model).entrySet()) {
            Linear lin = e.getValue();
            LoQTLinear l = new LoQTLinear(lin.weight().data(), lin.bias() == null ? null : lin.bias().data(), options.rank(),
                    options.scale(), quantize, options.quantizeProjection());
            model.replace(e.getKey(), l).close();
            layers.put(e.getKey(), l);
        }
    }

    /** Folds each adapter into a plain Linear with its effective weight W_eff (for a Hugging Face export). */
    @Override
    public void mergeForExport(Module model) {
        AdaptedLayers.foldIntoLinears(model, layers, LoQTLinear::effectiveWeight, LoQTLinear::bias);
        layers.clear();
    }

    /** The LoQT layers by path. */
    public Map<String, LoQTLinear> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** Number of update steps performed so far. */
    public int updates() {
        return updates;
    }

    /** The per-layer reports of the last update step (singular values, compensation errors), in layer order. */
    public List<LoQTLinear.UpdateReport> lastReports() {
        return List.copyOf(lastReports);
    }

    @Override
    public List<Parameter> trainable(Module model) {
        return AdaptedLayers.requiringGrad(model);
    }

    @Override
    public boolean beforeStep(int step, StepRunner runner) {
        if (layers.isEmpty()) throw new IllegalStateException(name() + ": beforeStep before prepare");
        if (!schedule.isUpdateStep(step)) return false;
        Set<Parameter> factors = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoQTLinear l : layers.values()) factors.add(l.factor());
        List<Parameter> frozen = new ArrayList<>(); // everything but the factors sits out the full-gradient pass
        for (Parameter p : model.parameters()) if (!factors.contains(p) && p.requiresGrad()) {
            p.requiresGrad(false);
            frozen.add(p);
        }
        List<LoQTLinear> ls = List.copyOf(layers.values());
        LoQTLinear.UpdateReport[] reports = new LoQTLinear.UpdateReport[ls.size()];
        List<Var.HookHandle> hooks = new ArrayList<>();
        int passes = runner.microBatches();
        for (int i = 0; i < ls.size() && passes > 0; i++) {
            int layer = i;
            int[] seen = {0};
            hooks.add(ls.get(i).registerFullGradientHook(l -> { // steps 3–4 the moment this layer's G is complete
                if (++seen[0] == passes) reports[layer] = l.finishUpdate(options.compensationIters(), updateSeed(step, layer));
            }));
        }
        try {
            for (LoQTLinear l : ls) {
                l.factor().zeroGrad(); // an update step makes no optimizer step: gradients are cleared either way
                l.beginUpdate(); // step 1
            }
            runner.forwardBackward(); // step 2 (and, with hooks, 3–4)
            for (LoQTLinear l : ls) // a pass after the layers finished ran through the adapters instead of Q'
                if (l.factor().grad() != null)
                    throw new IllegalStateException(name() + " update step " + step + ": the runner ran more backward passes than the "
                            + passes + " it declared (microBatches()), so some ran after the layers' updates had finished");
            for (int i = 0; i < ls.size(); i++) // steps 3–4 for layers not finished in backward, one at a time
                if (reports[i] == null) reports[i] = ls.get(i).finishUpdate(options.compensationIters(), updateSeed(step, i));
        } catch (RuntimeException | Error e) {
            for (LoQTLinear l : ls) l.releaseUpdateState(); // unfinished layers go back to their pre-update Q and factors
            throw e;
        } finally {
            for (Var.HookHandle h : hooks) h.close();
            for (Parameter p : frozen) p.requiresGrad(true);
        }
        lastReports.clear();
        lastReports.addAll(List.of(reports));
        updates++;
        return true;
    }

    /** Seed of layer {@code layer}'s randomized SVD at update step {@code step}. */
    static long updateSeed(int step, int layer) {
        return 0x10A7L * 1_000_003L + (long) step * 4099 + layer;
    }

    /** Frees the temporaries of an interrupted update step; Q, P and factors belong to the model (its buffers and parameters). */
    @Override
    public void close() {
        for (LoQTLinear l : layers.values()) l.releaseUpdateState();
    }
}
