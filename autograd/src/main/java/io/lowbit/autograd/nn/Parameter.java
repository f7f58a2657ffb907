package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

/**
 * A model weight: a leaf {@link Var} that requires grad by default. Its data is counted as
 * {@link MemoryCategory#WEIGHTS} and taken out of any open {@link MemoryScope} (it lives as long as
 * its module; {@link Module#close()} frees it).
 */
public class Parameter extends Var {
    /** A trainable parameter owning {@code data}. */
    public Parameter(Tensor data) {
        this(data, true);
    }

    /** A parameter owning {@code data}; frozen when {@code requiresGrad} is false. */
    public Parameter(Tensor data, boolean requiresGrad) {
        super(MemoryScope.escape(data).label(MemoryCategory.WEIGHTS), requiresGrad);
    }
}
