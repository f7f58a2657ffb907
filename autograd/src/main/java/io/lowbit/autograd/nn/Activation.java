package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import java.util.function.UnaryOperator;

/** A parameter-free layer applying a function of one Var (ReLU, SiLU, Tanh, ...). */
public final class Activation extends Layer {
    private final UnaryOperator<Var> fn;

    /** A layer applying {@code fn} (e.g. {@code F::relu}). */
    public Activation(UnaryOperator<Var> fn) {
        this.fn = fn;
    }

    /** max(x, 0). */
    public static Activation relu() { return new Activation(F::relu); }
    /** x·sigmoid(x). */
    public static Activation silu() { return new Activation(F::silu); }
    /** tanh(x). */
    public static Activation tanh() { return new Activation(F::tanh); }

    @Override
    public Var forward(Var x) {
        return fn.apply(x);
    }
}
