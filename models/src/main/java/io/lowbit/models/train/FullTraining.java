package io.lowbit.models.train;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.tensor.Rng;
import java.util.List;

/** Full-rank training: every parameter learns with the run's optimizer (the baseline every method is measured against). */
public final class FullTraining implements TrainingMethod {
    @Override
    public String name() {
        return "full";
    }

    @Override
    public void prepare(Module model, Rng rng) {}

    @Override
    public List<Parameter> trainable(Module model) {
        return model.parameters();
    }
}
