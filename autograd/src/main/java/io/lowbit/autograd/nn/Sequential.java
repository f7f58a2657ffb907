package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;

/** Layers applied in order (PyTorch's {@code nn.Sequential}); children are named "0", "1", .... */
public class Sequential extends Layer {
    /** The layers, applied first to last. */
    public Sequential(Layer... layers) {
        for (int i = 0; i < layers.length; i++) registerModule(Integer.toString(i), layers[i]);
    }

    @Override
    public Var forward(Var x) {
        for (Module m : children().values()) x = ((Layer) m).forward(x);
        return x;
    }
}
