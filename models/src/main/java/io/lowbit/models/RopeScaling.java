package io.lowbit.models;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How rotary position frequencies are rescaled for long contexts (Hugging Face's {@code rope_scaling}).
 * {@code "linear"} divides every inverse frequency by {@code factor}; {@code "llama3"} (Llama 3.1) keeps
 * high frequencies, divides low ones by {@code factor} and blends smoothly in between.
 *
 * @param type                          "linear" or "llama3"
 * @param factor                        the context extension factor (≥ 1)
 * @param lowFreqFactor                 llama3 only: wavelengths above original/low are fully scaled
 * @param highFreqFactor                llama3 only: wavelengths below original/high are kept
 * @param originalMaxPositionEmbeddings llama3 only: the pretraining context length
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositionEmbeddings) {

    /** Llama 3.1's published setting (factor 8, low 1, high 4, original context 8192). */
    public static RopeScaling llama3(double factor, double low, double high, int originalMax) {
        return new RopeScaling("llama3", factor, low, high, originalMax);
    }

    /** Linear position interpolation by {@code factor}. */
    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 0, 0, 0);
    }

    /**
     * Applies the scaling to one inverse frequency θ_i = theta^(-2i/d).
     * llama3: wavelength λ = 2π/θ_i; λ &lt; L/high → θ_i; λ &gt; L/low → θ_i/factor; else
     * (1−s)·θ_i/factor + s·θ_i with s = (L/λ − low)/(high − low).
     */
    public double scale(double invFreq) {
        if (type.equals("linear")) return invFreq / factor;
        double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
        double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highWavelen) return invFreq;
        if (wavelen > lowWavelen) return invFreq / factor;
        double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * invFreq / factor + smooth * invFreq;
    }

    /** Reads {@code rope_scaling} from a config object; errors name the file and key. */
    static RopeScaling fromJson(Object v, String source) {
        if (!(v instanceof Map<?, ?> raw))
            throw new IllegalArgumentException(source + ": key \"rope_scaling\" must be an object or null, got " + v);
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) raw;
        Object t = m.containsKey("rope_type") ? m.get("rope_type") : m.get("type");
        if (!(t instanceof String type))
            throw new IllegalArgumentException(source + ": key \"rope_scaling.rope_type\" is missing or not a string: " + t);
        double factor = number(m, "factor", source);
        return switch (type) {
            case "linear" -> check(linear(factor), source);
            case "llama3" -> check(llama3(factor, number(m, "low_freq_factor", source), number(m, "high_freq_factor", source),
                    (int) number(m, "original_max_position_embeddings", source)), source);
            case "default" -> null;
            default -> throw new IllegalArgumentException(source + ": key \"rope_scaling.rope_type\" = \"" + type
                    + "\" is not supported (supported: linear, llama3)");
        };
    }

    private static double number(Map<String, Object> m, String key, String source) {
        if (m.get(key) instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException(source + ": key \"rope_scaling." + key + "\" is missing or not a number: " + m.get(key));
    }

    private static RopeScaling check(RopeScaling r, String source) {
        if (!(r.factor >= 1) || Double.isInfinite(r.factor))
            throw new IllegalArgumentException(source + ": key \"rope_scaling.factor\" must be >= 1, got " + r.factor);
        if (r.type.equals("llama3")) {
            if (!(r.lowFreqFactor > 0) || !(r.highFreqFactor > r.lowFreqFactor))
                throw new IllegalArgumentException(source + ": keys \"rope_scaling.low_freq_factor\" (" + r.lowFreqFactor
                        + ") and \"high_freq_factor\" (" + r.highFreqFactor + ") must satisfy 0 < low < high");
            if (r.originalMaxPositionEmbeddings <= 0)
                throw new IllegalArgumentException(source + ": key \"rope_scaling.original_max_position_embeddings\" must be positive, got "
                        + r.originalMaxPositionEmbeddings);
        }
        return r;
    }

    /** The Hugging Face {@code rope_scaling} object. */
    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rope_type", type);
        m.put("factor", factor);
        if (type.equals("llama3")) {
            m.put("low_freq_factor", lowFreqFactor);
            m.put("high_freq_factor", highFreqFactor);
            m.put("original_max_position_embeddings", originalMaxPositionEmbeddings);
        }
        return m;
    }
}
