package io.lowbit.models.quant;

import io.lowbit.quant.Quantizer;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import java.util.function.Supplier;

/** Quantizers by command-line name: the one place where a method name becomes a {@link Quantizer}. */
public final class QuantMethods {
    private QuantMethods() {}

    /**
     * A supplier of fresh quantizers (one per linear).
     *
     * @param method    "rtn" (uniform affine, min-max range), "gptq" (same grid, error-compensated) or "nf4"
     *                  (QLoRA: blocks of 64, double quantization; 4 bits only)
     * @param bits      code width (2, 3, 4, 8)
     * @param group     input columns per scale group, or −1 for one scale per output channel (rtn, gptq)
     * @param symmetric symmetric grid instead of asymmetric min-max (rtn, gptq)
     * @param actOrder  GPTQ act-order (columns by descending Hessian diagonal; stores g_idx)
     */
    public static Supplier<Quantizer> of(String method, int bits, int group, boolean symmetric, boolean actOrder) {
        if (group == 0 || group < -1) throw new IllegalArgumentException("group size must be -1 (per channel) or >= 1, got " + group);
        return switch (method) {
            case "rtn" -> {
                AffineSpec spec = group > 0 ? AffineSpec.perGroup(bits, symmetric, group) : AffineSpec.perChannel(bits, symmetric);
                if (actOrder) throw new IllegalArgumentException("act-order is a GPTQ option; RTN has no column order");
                yield () -> new AffineQuantizer(spec);
            }
            case "gptq" -> {
                Gptq.Config cfg = Gptq.Config.defaults(bits).withGroupSize(group).withSymmetric(symmetric).withActOrder(actOrder);
                yield () -> new Gptq(cfg);
            }
            case "nf4" -> {
                if (bits != 4) throw new IllegalArgumentException("nf4 is a 4-bit format, got --bits " + bits);
                yield Nf4Quantizer::new;
            }
            default -> throw new IllegalArgumentException("unknown quantization method '" + method + "' (expected rtn, nf4 or gptq)");
        };
    }
}
