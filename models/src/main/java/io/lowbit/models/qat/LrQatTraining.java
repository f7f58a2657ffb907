package io.lowbit.models.qat;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.models.train.methods.AdaptedLayers;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.lrqat.LrQat;
import io.lowbit.quant.lrqat.LrQatConfig;
import io.lowbit.quant.lrqat.LrQatLinear;
import io.lowbit.tensor.Rng;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * LR-QAT (specs/lr-qat.md) as a {@link TrainingMethod} of the shared trainer. {@link #prepare} swaps every
 * q/k/v/o/gate/up/down projection of a pretrained model for an {@link LrQatLinear}
 * (Ŵ = s·clamp(round_STE(Φ0 + (α/r)·A·B), −2^(b−1), 2^(b−1)−1), Φ0 = φ(W0/s0) stored downcast, s0 from
 * the L_p range search); embeddings, norms and head stay frozen in full precision. Trainable: A, B, s, with
 * the spec's optimizer (AdamW β = (0.9, 0.95), weight decay 0, one learning rate for A and B and one for s;
 * the trainer's warmup + cosine schedule scales both). {@link #quantized()} merges to plain integers.
 */
public final class LrQatTraining implements TrainingMethod {
    private final LrQatConfig config;
    private final double lrAB, lrScale;
    private final Map<String, LrQatLinear> layers = new LinkedHashMap<>();

    /** LR-QAT with layer settings {@code config}, learning rate {@code lrAB} for A and B and {@code lrScale} for s. */
    public LrQatTraining(LrQatConfig config, double lrAB, double lrScale) {
        if (!(lrAB > 0) || !(lrScale >= 0)) throw new IllegalArgumentException("LR-QAT learning rates must be > 0 (A, B) and >= 0 (s), got " + lrAB + ", " + lrScale);
        this.config = config;
        this.lrAB = lrAB;
        this.lrScale = lrScale;
    }

    @Override
    public String name() {
        return "lr-qat";
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException("lr-qat: prepare called twice");
        layers.putAll(LrQat.apply(model, AdaptedLayers::isAdapted, config, rng));
    }

    @Override
    public List<Parameter> trainable(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (LrQatLinear l : layers.values()) out.addAll(List.of(l.loraA(), l.loraB(), l.scale()));
        return out;
    }

    /** The spec's AdamW with two learning rates (the trainer's single-lr default is not used). */
    @Override
    public Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        return LrQat.optimizer(layers.values(), lrAB, lrScale);
    }

    /** The LR-QAT layers by path. */
    public Map<String, LrQatLinear> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** The layer settings. */
    public LrQatConfig config() {
        return config;
    }

    /** Bytes of the stored Φ0 over all layers (what φ downcasting saves). */
    public long phi0Bytes() {
        long b = 0;
        for (LrQatLinear l : layers.values()) b += l.phi0().bytes();
        return b;
    }

    /** Every layer merged to its integer weight W_int = clamp(round(Φ0 + (α/r)AB)) with scale s, by path; the caller closes them. */
    public Map<String, QuantizedTensor> quantized() {
        return new LinkedHashMap<>(LrQat.merge(layers));
    }
}
