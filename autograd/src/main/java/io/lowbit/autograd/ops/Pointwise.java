package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

/**
 * One-input elementwise ops. Each kind states its forward and its derivative side by side;
 * {@code backward} receives the input x, the output y and the incoming gradient g and returns
 * g·dy/dx (temporaries die in a scope, only the result is kept).
 */
final class Pointwise extends Function {
    enum Kind {
        NEG {
            Tensor f(Tensor x) { return x.neg(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.neg(); }
        },
        EXP { // d eˣ = eˣ
            Tensor f(Tensor x) { return x.exp(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(y); }
        },
        LOG { // d ln x = 1/x
            Tensor f(Tensor x) { return x.log(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.div(x); }
        },
        SQRT { // d √x = 1/(2√x)
            Tensor f(Tensor x) { return x.sqrt(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.div(y).mul(0.5); }
        },
        RSQRT { // d x^-½ = −½ x^-3/2 = −½ y³
            Tensor f(Tensor x) { return x.rsqrt(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(y.pow(3)).mul(-0.5); }
        },
        TANH { // d tanh = 1 − y²
            Tensor f(Tensor x) { return x.tanh(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(y.square().neg().add(1.0)); }
        },
        SIGMOID { // dσ = σ(1 − σ)
            Tensor f(Tensor x) { return x.sigmoid(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(y.mul(y.neg().add(1.0))); }
        },
        RELU { // d relu = [x > 0]
            Tensor f(Tensor x) { return x.relu(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(x.sign().relu()); }
        },
        SILU { // d x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
            Tensor f(Tensor x) { return x.silu(); }
            Tensor df(Tensor x, Tensor y, Tensor g) {
                Tensor s = x.sigmoid();
                return g.mul(s.mul(x.mul(s.neg().add(1.0)).add(1.0)));
            }
        },
        SQUARE { // d x² = 2x
            Tensor f(Tensor x) { return x.square(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(x).mul(2.0); }
        },
        ABS { // d |x| = sign(x)
            Tensor f(Tensor x) { return x.abs(); }
            Tensor df(Tensor x, Tensor y, Tensor g) { return g.mul(x.sign()); }
        };

        abstract Tensor f(Tensor x);

        abstract Tensor df(Tensor x, Tensor y, Tensor g);
    }

    private final Kind kind;

    Pointwise(Kind kind) {
        this.kind = kind;
    }

    @Override
    public String name() {
        return kind.name().charAt(0) + kind.name().substring(1).toLowerCase();
    }

    @Override
    protected Tensor forward(Tensor... in) {
        if (PointwiseF32.handles(kind, in[0])) {
            Tensor x = in[0].contiguous(); // saved contiguous (a copy is owned by this node)
            Tensor y = PointwiseF32.forward(kind, x);
            saveForBackward(x, y);
            return y;
        }
        Tensor y = kind.f(in[0]);
        saveForBackward(in[0], y);
        return y;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        if (PointwiseF32.handles(kind, saved(0))) return new Tensor[] {PointwiseF32.backward(kind, saved(0), saved(1), g)};
        try (MemoryScope s = MemoryScope.open()) {
            return new Tensor[] {s.keep(kind.df(saved(0), saved(1), g))};
        }
    }
}
