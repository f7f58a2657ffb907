package io.lowbit.models.llama;

/**
 * Which pairs of a head's coordinates RoPE rotates together. The two layouts are the same model up to
 * a fixed permutation of the q/k projection rows ({@link io.lowbit.models.io.QkPermutation}).
 */
public enum RopeLayout {
    /** Meta / llama2.c: pairs (2i, 2i+1) of each head, rotated by angle pos·θ_i. */
    INTERLEAVED,
    /** Hugging Face "rotate half": pairs (i, i + head_dim/2) of each head. */
    HALF
}
