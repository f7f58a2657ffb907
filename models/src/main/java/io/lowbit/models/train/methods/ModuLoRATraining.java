package io.lowbit.models.train.methods;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.quant.modulora.ModuLora;
import io.lowbit.quant.modulora.ModuLoraLinear;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Fine-tuning with low-rank adapters over a frozen base (specs/modulora.md, baselines.md): every q/k/v/o/gate/up/down
 * linear of a pretrained {@link LlamaForCausalLM} becomes a {@link ModuLoraLinear} y = base(x) + (α/r)·B·A·dropout(x),
 * and only A and B train (embeddings, norms and LM head stay frozen, as in peft). The base is the one argument
 * that differs between the three methods:
 * <ul>
 *   <li><b>modulora</b> — any {@link Quantizer} (RTN, NF4, GPTQ; 2–4 bits) as a black box; the backward
 *       re-materializes deq(Q) tile by tile for dL/dx only and no base-weight gradient exists;</li>
 *   <li><b>qlora</b> — the same over NF4 with double quantization (Dettmers et al. 2023);</li>
 *   <li><b>lora</b> — the full-precision weight, frozen (Hu et al. 2021).</li>
 * </ul>
 * A calibrated quantizer (GPTQ) is fed sequentially in {@link #prepare}: the targets are quantized in module order,
 * each observing its real inputs from fixed calibration windows run through the model whose earlier targets are
 * already quantized ({@link ModuLora#apply}).
 *
 * <p>The adapters' dropout streams are the only state beyond parameters and optimizer, kept in {@link #extraState()}
 * so a resumed run continues bit for bit. {@link #mergeForExport} folds each layer into a dense Linear holding
 * W_eff = deq(Q) + (α/r)·B·A; {@link #adapters()} gives A and B under PEFT's tensor names.
 */
public final class ModuLoRATraining implements TrainingMethod {
    private final String name;
    private final Supplier<Quantizer> quantizer; // null: full-precision base (LoRA)
    private final LoraConfig config;
    private final TokenDataset.Batch calibration;
    private final int calibrationMicroBatch;
    private final Map<String, ModuLoraLinear> layers = new LinkedHashMap<>();
    private Tensor dropoutPositions; // [layers] F64, refreshed by extraState(), freed by close()

    /**
     * @param name        name in logs and files
     * @param quantizer   fresh quantizer per linear, or null for a full-precision base (LoRA)
     * @param config      adapter rank, α, dropout and targets
     * @param calibration token windows for a calibrated quantizer (GPTQ), run {@code microBatch} at a time; may be
     *                    null for data-free quantizers
     */
    public ModuLoRATraining(String name, Supplier<Quantizer> quantizer, LoraConfig config, TokenDataset.Batch calibration, int microBatch) {
        if (microBatch < 1) throw new IllegalArgumentException("calibration micro-batch must be >= 1, got " + microBatch);
        this.name = name;
        this.quantizer = quantizer;
        this.config = config;
        this.calibration = calibration;
        this.calibrationMicroBatch = microBatch;
        if (quantizer != null && quantizer.get().needsCalibration() && calibration == null)
            throw new IllegalArgumentException(name + ": quantizer '" + quantizer.get().name() + "' needs calibration windows");
    }

    /** ModuLoRA over {@code quantizer} (calibration windows needed iff it calibrates, e.g. GPTQ). */
    public static ModuLoRATraining modulora(Supplier<Quantizer> quantizer, LoraConfig config, TokenDataset.Batch calibration) {
        return new ModuLoRATraining("modulora", quantizer, config, calibration, 8);
    }

    /** QLoRA: NF4 (blocks of 64) with double quantization as the frozen base. */
    public static ModuLoRATraining qlora(LoraConfig config) {
        return new ModuLoRATraining("qlora", Nf4Quantizer::new, config, null, 1);
    }

    /** LoRA over the full-precision frozen base, with the same adapters. */
    public static ModuLoRATraining lora(LoraConfig config) {
        return new ModuLoRATraining("lora", null, config, null, 1);
    }

    @Override
    public String name() {
        return name;
    }

    /** The adapter configuration. */
    public LoraConfig config() {
        return config;
    }

    @Override
    public void prepare(Module model, Rng rng) {
        if (!layers.isEmpty()) throw new IllegalStateException(name + ": prepare called twice");
        Rng r = rng.fork("modulora");
        List<String> paths;
        if (quantizer == null) {
            paths = ModuLora.applyLora(model, config, r);
        } else {
            Runnable calibrate = calibration == null ? null : () -> runCalibration(model);
            paths = ModuLora.apply(model, quantizer, config, r, calibrate);
        }
        for (String p : paths) layers.put(p, (ModuLoraLinear) model.get(p));
        dropoutPositions = MemoryScope.escape(Tensor.zeros(io.lowbit.tensor.DType.F64, layers.size()));
    }

    /** The calibration windows through the model, in eval mode (no dropout), no grad, activations freed per chunk. */
    private void runCalibration(Module model) {
        if (!(model instanceof LlamaForCausalLM llama))
            throw new IllegalArgumentException(name + ": calibration runs a LlamaForCausalLM, got " + model.getClass().getSimpleName());
        boolean wasTraining = model.isTraining();
        model.eval();
        int t = calibration.seqLen();
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (int from = 0; from < calibration.batch(); from += calibrationMicroBatch) {
                int n = Math.min(calibrationMicroBatch, calibration.batch() - from);
                int[] ids = java.util.Arrays.copyOfRange(calibration.inputs(), from * t, (from + n) * t);
                try (MemoryScope _ = MemoryScope.open(); Tensor x = Tensor.of(ids, n, t)) {
                    llama.forward(x);
                }
            }
        } finally {
            model.train(wasTraining);
        }
    }

    /** Only the adapters learn: A and B of every layer, in module order. */
    @Override
    public List<Parameter> trainable(Module model) {
        if (layers.isEmpty()) throw new IllegalStateException(name + ": the model has no adapters; call prepare first");
        List<Parameter> out = new ArrayList<>();
        for (ModuLoraLinear l : layers.values()) {
            out.add(l.loraA());
            out.add(l.loraB());
        }
        return out;
    }

    /** The adapted layers by path. */
    public Map<String, ModuLoraLinear> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** Positions of the adapters' dropout streams, one per layer in module order (F64: exact below 2⁵³). */
    @Override
    public Map<String, Tensor> extraState() {
        if (dropoutPositions == null) return Map.of();
        int i = 0;
        for (ModuLoraLinear l : layers.values()) dropoutPositions.setDouble(i++, l.dropoutRng().position());
        return Map.of("modulora.dropout_positions", dropoutPositions);
    }

    @Override
    public void loadExtraState(Map<String, Tensor> state) {
        Tensor t = state.get("modulora.dropout_positions");
        if (t == null) throw new IllegalArgumentException(name + ": checkpoint has no 'modulora.dropout_positions'");
        if (t.numel() != layers.size())
            throw new IllegalArgumentException(name + ": checkpoint holds " + t.numel() + " dropout positions, the model has " + layers.size() + " adapted layers");
        int i = 0;
        for (ModuLoraLinear l : layers.values()) l.dropoutRng().seek((long) t.getDouble(i++));
    }

    /** Replaces every adapted layer by a dense Linear holding W_eff = deq(Q) + (α/r)·B·A (or W + (α/r)·B·A). */
    @Override
    public void mergeForExport(Module model) {
        AdaptedLayers.foldIntoLinears(model, layers, ModuLoraLinear::effectiveWeight, l -> null);
        layers.clear();
    }

    /** Frees the dropout-position buffer (the layers belong to the model). */
    @Override
    public void close() {
        if (dropoutPositions != null) dropoutPositions.close();
        dropoutPositions = null;
    }

    /**
     * The adapters under PEFT's names ({@code base_model.model.<path>.lora_A.weight}, {@code ...lora_B.weight}): views
     * of the trained parameters (valid until {@link #mergeForExport} or the model is closed).
     */
    public Map<String, Tensor> adapters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : layers.entrySet()) {
            String p = "base_model.model." + e.getKey();
            out.put(p + ".lora_A.weight", e.getValue().loraA().data());
            out.put(p + ".lora_B.weight", e.getValue().loraB().data());
        }
        return out;
    }

    /** PEFT's {@code adapter_config.json} fields for these adapters. */
    public Map<String, Object> adapterConfig(String baseModel) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("peft_type", "LORA");
        c.put("task_type", "CAUSAL_LM");
        c.put("base_model_name_or_path", baseModel);
        c.put("r", config.rank());
        c.put("lora_alpha", config.alpha());
        c.put("lora_dropout", config.dropout());
        c.put("target_modules", config.targets());
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        return c;
    }
}
