package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;

/**
 * A module with one input and one output (Linear, RMSNorm, an MLP block). Fields that hold a
 * replaceable submodule should be typed {@code Layer} so a quantized stand-in fits.
 */
public abstract class Layer extends Module {
    /** Computes the output for {@code x}. */
    public abstract Var forward(Var x);
}
