package io.lowbit.models.quant;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.quant.modulora.ModuLora;
import io.lowbit.quant.nf4.Nf4Quantizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * ModuLoRA / QLoRA as a {@link TrainingMethod} for the shared trainer: {@link #prepare} quantizes every
 * targeted linear with the given quantizer and wraps it in a {@link io.lowbit.quant.modulora.ModuLoraLinear};
 * only the adapters (lora_A, lora_B) are trainable. The quantizer is the one method-specific argument.
 */
public final class ModuLoraTraining implements TrainingMethod {
    private final String name;
    private final Supplier<Quantizer> quantizer;
    private final LoraConfig config;
    private final Consumer<Module> calibration;

    /**
     * @param calibration runs the model on calibration data (no grad); required for calibrated quantizers
     *                    (GPTQ), may be null otherwise
     */
    public ModuLoraTraining(String name, Supplier<Quantizer> quantizer, LoraConfig config, Consumer<Module> calibration) {
        this.name = name;
        this.quantizer = quantizer;
        this.config = config;
        this.calibration = calibration;
    }

    /** QLoRA: NF4 with double quantization as the frozen base. */
    public static ModuLoraTraining qlora(LoraConfig config) {
        return new ModuLoraTraining("qlora", Nf4Quantizer::new, config, null);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void prepare(Module model, io.lowbit.tensor.Rng rng) {
        ModuLora.apply(model, quantizer, config, rng.fork("modulora"), calibration == null ? null : () -> calibration.accept(model));
    }

    @Override
    public List<Parameter> trainable(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet())
            if (e.getKey().endsWith("lora_A") || e.getKey().endsWith("lora_B")) out.add(e.getValue());
        if (out.isEmpty()) throw new IllegalStateException(name + ": the model has no adapters; call prepare first");
        return out;
    }
}
