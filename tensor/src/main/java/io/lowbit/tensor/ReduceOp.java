package io.lowbit.tensor;

/** Reductions along one dimension. ARGMAX returns I32 indices (first maximum on ties). */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN, ARGMAX
}
