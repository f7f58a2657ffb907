package io.lowbit.quant.fakequant;

import io.lowbit.autograd.Var;
import io.lowbit.quant.uniform.AffineSpec;

/** Entry points of the fake-quantization ops. */
public final class FakeQuant {
    private FakeQuant() {}

    /** ⌊x⌉ with a straight-through (identity) gradient. */
    public static Var roundSte(Var x) {
        return new RoundSte().apply(x);
    }

    /** LSQ fake quantization of {@code v} with learned step(s) {@code s} (gradient scale g = 1/√(N·Q_P) on). */
    public static Var lsq(Var v, Var s, AffineSpec spec) {
        return new LsqFakeQuant(spec, true).apply(v, s);
    }
}
