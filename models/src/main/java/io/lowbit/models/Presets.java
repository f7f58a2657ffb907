package io.lowbit.models;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Named model shapes: the LoQT paper's pretraining sizes (60M … 13B; vocab 32000, SiLU, RMSNorm ε 1e-6,
 * see specs/loqt.md), three published checkpoints' shapes, and small CPU sizes for our examples.
 */
public final class Presets {
    private Presets() {}

    private static final Map<String, LlamaConfig> PRESETS = new LinkedHashMap<>();

    static {
        // LoQT / GaLore pretraining sizes: hidden, intermediate, heads, layers (full multi-head attention).
        loqt("60M", 512, 1376, 8, 8, 1024);
        loqt("130M", 768, 2048, 12, 12, 1024);
        loqt("350M", 1024, 2736, 16, 24, 1024);
        loqt("1B", 2048, 5461, 32, 24, 1024);
        loqt("7B", 4096, 11008, 32, 32, 2048);
        loqt("13B", 5120, 13824, 40, 40, 2048);
        PRESETS.put("llama-2-7b", LlamaConfig.of(4096, 11008, 32, 32, 32, 32000, 4096, 1e-5, 10000, false));
        PRESETS.put("llama-3-8b", LlamaConfig.of(4096, 14336, 32, 8, 32, 128256, 8192, 1e-5, 500000, false));
        PRESETS.put("mistral-7b", LlamaConfig.of(4096, 14336, 32, 8, 32, 32000, 32768, 1e-5, 10000, false)
                .withSlidingWindow(4096));
        // CPU-sized models for the examples ("tiny" has stories260K's shape).
        PRESETS.put("tiny", LlamaConfig.of(64, 172, 8, 4, 5, 512, 512, 1e-5, 10000, true));
        PRESETS.put("small", LlamaConfig.of(256, 688, 8, 4, 4, 2048, 256, 1e-5, 10000, true));
        PRESETS.put("medium", LlamaConfig.of(384, 1024, 6, 3, 6, 2048, 256, 1e-5, 10000, true));
    }

    private static void loqt(String name, int hidden, int inter, int heads, int layers, int maxPos) {
        PRESETS.put(name, LlamaConfig.of(hidden, inter, heads, heads, layers, 32000, maxPos, 1e-6, 10000, false));
    }

    /**
     * The preset called {@code name} (case-insensitive; the LoQT sizes also answer to {@code llama-60m} ...
     * {@code llama-13b}, the spelling the issue and the paper use); the error lists the known names.
     */
    public static LlamaConfig get(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        if (n.startsWith("llama-") && PRESETS.containsKey(n.substring(6).toUpperCase(java.util.Locale.ROOT)))
            name = n.substring(6);
        for (Map.Entry<String, LlamaConfig> e : PRESETS.entrySet())
            if (e.getKey().equalsIgnoreCase(name)) return e.getValue();
        throw new IllegalArgumentException("unknown model preset '" + name + "' (known: " + String.join(", ", PRESETS.keySet()) + ")");
    }

    /** All preset names in a stable order. */
    public static Iterable<String> names() {
        return PRESETS.keySet();
    }
}
