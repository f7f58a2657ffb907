package io.lowbit.models.train.methods;

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
 *   <li>–4. layer by layer: P from SVD(G), NF4(P), error compensation with C iterations; that layer's G,
 *       Q' and rebuilt W_fp are freed before the next layer is processed, so only one layer's W_fp exists
 *       at a time. (The G buffers of all layers coexist at the end of the pass, because the runner's
 *       micro-batches must all accumulate into them before any SVD.)</li>
 * </ol>
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
        lastReports.clear();
        try {
            for (LoQTLinear l : layers.values()) l.beginUpdate(); // step 1
            runner.forwardBackward(); // step 2
        } catch (RuntimeException | Error e) {
            for (LoQTLinear l : layers.values()) l.releaseUpdateState(); // back to the pre-update Q and factors
            throw e;
        } finally {
            for (Parameter p : frozen) p.requiresGrad(true);
        }
        int i = 0;
        for (LoQTLinear l : layers.values()) // steps 3–4, one layer at a time
            lastReports.add(l.finishUpdate(options.compensationIters(), 0x10A7L * 1_000_003L + (long) step * 4099 + i++));
        updates++;
        return true;
    }

    /** Frees the temporaries of an interrupted update step; Q, P and factors belong to the model (its buffers and parameters). */
    @Override
    public void close() {
        for (LoQTLinear l : layers.values()) l.releaseUpdateState();
    }
}
