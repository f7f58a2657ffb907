package io.lowbit.autograd.nn;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/** A table of {@code numEmbeddings} rows of size {@code dim} (PyTorch's {@code nn.Embedding}, init N(0, 1)). */
public class Embedding extends Module {
    private final Parameter weight;

    /** An F32 table initialized N(0, 1) from {@code rng}. */
    public Embedding(int numEmbeddings, int dim, Rng rng) {
        this(numEmbeddings, dim, rng, DType.F32);
    }

    /** A table of the given dtype initialized N(0, 1) from {@code rng}. */
    public Embedding(int numEmbeddings, int dim, Rng rng, DType dtype) {
        weight = registerParameter("weight", new Parameter(Tensor.normal(dtype, rng, 0, 1, numEmbeddings, dim)));
    }

    /** The table [numEmbeddings, dim]. */
    public Parameter weight() { return weight; }

    /** Rows for the I32 ids: [ids..., dim]. */
    public Var forward(Tensor ids) {
        return F.embedding(weight, ids);
    }
}
