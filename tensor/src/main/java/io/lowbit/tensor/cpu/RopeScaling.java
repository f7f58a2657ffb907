package io.lowbit.tensor.cpu;

/**
 * Llama 3 "rope_scaling" (rope_type "llama3"): frequencies whose wavelength exceeds
 * originalMaxPositions / lowFreqFactor are divided by {@code factor}, those shorter than
 * originalMaxPositions / highFreqFactor are kept, and the band between is interpolated smoothly.
 *
 * @param factor                  divisor for the low frequencies (8 for Llama 3.1)
 * @param lowFreqFactor           1 for Llama 3.1
 * @param highFreqFactor          4 for Llama 3.1
 * @param originalMaxPositions    original_max_position_embeddings (8192 for Llama 3.1)
 */
public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    public RopeScaling {
        if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositions <= 0)
            throw new IllegalArgumentException("rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings > 0, got " + this);
    }

    /** The scaled inverse frequency for an unscaled one. */
    public double apply(double invFreq) {
        double wavelen = 2 * Math.PI / invFreq;
        double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
        double highFreqWavelen = originalMaxPositions / highFreqFactor;
        if (wavelen < highFreqWavelen) return invFreq;
        if (wavelen > lowFreqWavelen) return invFreq / factor;
        double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * invFreq / factor + smooth * invFreq;
    }
}
