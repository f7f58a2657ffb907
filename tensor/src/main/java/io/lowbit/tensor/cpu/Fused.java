package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Tensor;

/**
 * Fused forward kernels for LLaMA-family blocks on contiguous F32 tensors: RMSNorm, rotary embeddings,
 * SwiGLU, causal grouped-query attention over a KV cache, and the decode-time GEMV. Each returns a new
 * contiguous F32 tensor (in the current {@link io.lowbit.tensor.MemoryScope}, if any), runs on the Vector
 * API and splits its rows across {@link Parallel}. Arguments that are not contiguous F32 are rejected with
 * a message naming them.
 */
public final class Fused {
    private Fused() {}

    /** RMSNorm over the last dimension: y = x / sqrt(mean(x²) + eps) · weight, x [..., d], weight [d]. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        return RmsNorm.forward(x, weight, eps, null);
    }

    /**
     * RMSNorm that also writes each row's 1/sqrt(mean(x²) + eps) into {@code invRmsOut} (F32, one value per
     * row of x, any shape), the quantity the backward pass needs.
     */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps, Tensor invRmsOut) {
        return RmsNorm.forward(x, weight, eps, invRmsOut);
    }

    /**
     * cos/sin tables [maxPositions, headDim/2] for base {@code theta} (10000 for Llama 2, 500000 for Llama 3);
     * {@code scaling} is Llama 3's rope_scaling, or null for none.
     */
    public static RopeTables ropeTables(int headDim, int maxPositions, double theta, RopeScaling scaling) {
        return Rope.tables(headDim, maxPositions, theta, scaling);
    }

    /**
     * Rotary embedding of x [b, t, heads, headDim] (or [t, heads, headDim]) at positions
     * positionOffset..positionOffset+t-1. {@code interleaved}: pairs (2i, 2i+1) as in Meta's checkpoints and
     * llama2.c; otherwise pairs (i, i + headDim/2) as in Hugging Face checkpoints.
     */
    public static Tensor rope(Tensor x, RopeTables tables, int positionOffset, boolean interleaved) {
        return Rope.apply(x, tables.cos(), tables.sin(), positionOffset, interleaved, false);
    }

    /** {@link #rope(Tensor, RopeTables, int, boolean)} with explicit cos/sin tables [positions, headDim/2]. */
    public static Tensor rope(Tensor x, Tensor cos, Tensor sin, int positionOffset, boolean interleaved) {
        return Rope.apply(x, cos, sin, positionOffset, interleaved, false);
    }

    /**
     * The inverse rotation (angle → −angle). Rotations are orthogonal, so this is also rope's backward:
     * dx = ropeInverse(dy).
     */
    public static Tensor ropeInverse(Tensor y, RopeTables tables, int positionOffset, boolean interleaved) {
        return Rope.apply(y, tables.cos(), tables.sin(), positionOffset, interleaved, true);
    }

    /** silu(gate)·up elementwise; gate and up have the same shape. */
    public static Tensor swiglu(Tensor gate, Tensor up) {
        return SwiGlu.forward(gate, up);
    }

    /**
     * Causal attention for prefill/decode: q [t, nHeads, hd] at positions startPos..startPos+t-1 against
     * kCache/vCache [T, nKv, hd] (T ≥ startPos + t; only positions ≤ each query's are read). Query head h
     * uses kv head h / (nHeads / nKv); scores are scaled by 1/sqrt(hd); {@code window} &gt; 0 limits each
     * query to its last {@code window} positions (itself included), 0 means no window. Returns [t, nHeads, hd].
     */
    public static Tensor attention(Tensor q, Tensor kCache, Tensor vCache, int startPos, int window) {
        return Attention.forward(q, kCache, vCache, startPos, window);
    }

    /** y = W·x for W [out, in] and x [in]; returns [out]. */
    public static Tensor gemv(Tensor w, Tensor x) {
        return Gemv.forward(w, x);
    }
}
