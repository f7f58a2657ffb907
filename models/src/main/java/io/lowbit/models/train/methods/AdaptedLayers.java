package io.lowbit.models.train.methods;

import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which layers the low-rank methods adapt: every {@link Linear} whose dotted path ends in one of the
 * attention and MLP projection names (spec "Parametrization": q, k, v, o, gate, up, down). Embeddings,
 * the LM head and norms are never adapted; they train normally.
 */
public final class AdaptedLayers {
    private AdaptedLayers() {}

    /** The module names that are adapted. */
    public static final Set<String> NAMES = Set.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    /** True when the last path segment is one of {@link #NAMES}. */
    public static boolean isAdapted(String path) {
        return NAMES.contains(path.substring(path.lastIndexOf('.') + 1));
    }

    /** The adaptable linears of {@code model} by path, in tree order; an error when there are none. */
    public static Map<String, Linear> find(Module model) {
        Map<String, Linear> out = new LinkedHashMap<>();
        for (var e : model.namedModules().entrySet())
            if (e.getValue() instanceof Linear lin && isAdapted(e.getKey())) out.put(e.getKey(), lin);
        if (out.isEmpty())
            throw new IllegalArgumentException("no linear layer named one of " + NAMES + " found in " + model.getClass().getSimpleName()
                    + " (modules: " + model.namedModules().keySet() + ")");
        return out;
    }

    /** The parameters that still require grad (what the optimizer updates). */
    public static List<Parameter> requiringGrad(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : model.parameters()) if (p.requiresGrad()) out.add(p);
        return out;
    }

    /**
     * Replaces every adapted layer by a plain {@link Linear} holding its effective dense weight (adapters
     * merged, quantized weights dequantized), so the model exports as an ordinary checkpoint.
     *
     * @param weight the layer's effective weight [out, in] as a new tensor
     * @param bias the layer's bias parameter, or null
     */
    static <L extends io.lowbit.autograd.nn.Layer> void foldIntoLinears(Module model, Map<String, L> layers,
            java.util.function.Function<L, io.lowbit.tensor.Tensor> weight, java.util.function.Function<L, Parameter> bias) {
        for (Map.Entry<String, L> e : layers.entrySet()) {
            io.lowbit.tensor.Tensor w = io.lowbit.tensor.MemoryScope.escape(weight.apply(e.getValue()))
                    .label(io.lowbit.tensor.MemoryCategory.WEIGHTS);
            Parameter b = bias.apply(e.getValue());
            io.lowbit.tensor.Tensor bc = b == null ? null
                    : io.lowbit.tensor.MemoryScope.escape(b.data().copy()).label(io.lowbit.tensor.MemoryCategory.WEIGHTS);
            model.replace(e.getKey(), new Linear(w, bc)).close();
        }
    }
}
