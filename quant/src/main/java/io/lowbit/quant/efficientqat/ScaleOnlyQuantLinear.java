package io.lowbit.quant.efficientqat;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A linear layer frozen as integers after Block-AP, whose step sizes still train (E2E-QP, spec "Phase 2"):
 * y = x·Wᵀ (+ b), W = s·(q − z) with q and z frozen in an {@link AffineQuantizedTensor} and s the trainable
 * parameter {@code scale} [scaleRows, numGroups], initialized from the tensor's scales
 * ({@link DequantScaleLinear}). Owns the quantized tensor, whose components are registered as buffers
 * ("qweight", "scales", "zeros", "g_idx") so closing any enclosing module frees them;
 * {@link #toQuantizedTensor()} exports the integers with the current step sizes.
 */
public final class ScaleOnlyQuantLinear extends Layer {
    private final AffineQuantizedTensor q;
    private final Parameter scale, bias;

    /** Takes ownership of {@code q}; copies {@code bias} (may be null, frozen); the scale parameter in {@code dtype}. */
    public ScaleOnlyQuantLinear(AffineQuantizedTensor q, Tensor bias, DType dtype) {
        if (bias != null && (bias.dim() != 1 || bias.size(0) != q.rows()))
            throw new IllegalArgumentException("bias " + java.util.Arrays.toString(bias.shape()) + " does not match quantized weight rows " + q.rows());
        this.q = q;
        for (Map.Entry<String, Tensor> e : q.components().entrySet()) registerBuffer(e.getKey(), e.getValue()); // frozen q, z: in the state dict, freed with the model
        int sr = q.spec().scaleRows(q.rows()), ng = q.numGroups();
        Tensor s = Tensor.empty(dtype, sr, ng);
        for (int r = 0; r < sr; r++) for (int g = 0; g < ng; g++) s.setDouble((long) r * ng + g, q.scale(r, g));
        this.scale = registerParameter("scale", new Parameter(s));
        this.bias = bias == null ? null : registerParameter("bias", new Parameter(bias.to(dtype), false));
    }

    /** An F32 layer over {@code q} (owned) and an optional bias. */
    public ScaleOnlyQuantLinear(AffineQuantizedTensor q, Tensor bias) {
        this(q, bias, DType.F32);
    }

    @Override
    public Var forward(Var x) {
        Var y = new DequantScaleLinear(q).apply(x, scale);
        return bias == null ? y : F.add(y, bias);
    }

    /** The frozen integers (with the step sizes they were built with). */
    public AffineQuantizedTensor quantized() { return q; }
    /** The trainable step sizes. */
    public Parameter scale() { return scale; }
    /** The frozen bias, or null. */
    public Parameter bias() { return bias; }
    /** Input features. */
    public int inFeatures() { return q.cols(); }
    /** Output features. */
    public int outFeatures() { return q.rows(); }

    /** The integers q, z with the current step sizes s, as a new tensor the caller closes. */
    public AffineQuantizedTensor toQuantizedTensor() {
        Map<String, Tensor> comps = new LinkedHashMap<>(q.components());
        try (Tensor s = scale.data().to(DType.F32)) {
            for (long i = 0; i < s.numel(); i++)
                if (!(s.getDouble(i) > 0) || !Double.isFinite(s.getDouble(i)))
                    throw new IllegalStateException("step size " + i + " = " + s.getDouble(i) + " cannot be stored (must be positive, finite)");
            comps.put("scales", s);
            Map<String, String> cfg = new LinkedHashMap<>(q.quantizationConfig());
            cfg.put("quant_method", "efficientqat");
            return (AffineQuantizedTensor) QuantizedTensor.fromComponents(comps, cfg);
        }
    }

    @Override
    public void close() {
        super.close();
        q.close();
    }
}
