package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import java.util.function.UnaryOperator;

/** A parameter-free layer applying a function of one Var (ReLU, SiLU, Tanh, ...). */
public final class Activation extends Layer {
    private final UnaryOperator<Var> fn;

    public Activation(UnaryOperator<Var> fn) {
        this.fn = fn;
    }

    public static Activation relu() { return new Activation(F::relu); }
    public static Activation silu() { return new Activation(F::silu); }
    public static Activation tanh() { return new Activation(F::tanh); }

    @Override
    public Var forward(Var x) {
        return fn.apply(x);
    }
}
