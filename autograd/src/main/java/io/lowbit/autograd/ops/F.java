package io.lowbit.autograd.ops;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

/**
 * The differentiable ops (PyTorch's {@code torch} + {@code torch.nn.functional} in one place). Every
 * method builds one {@link io.lowbit.autograd.Function} node; the classes in this package show the
 * forward and backward of each op side by side. F32 and F64 are supported everywhere; the fused ops
 * (rmsNorm, rope, swiglu, attention, crossEntropy) run Vector API kernels for F32 and plain reference
 * loops for F64.
 */
public final class F {
    private F() {}

    // ------------------------------------------------------------------ arithmetic (broadcasting)

    /** a + b with NumPy broadcasting. */
    public static Var add(Var a, Var b) { return new Arithmetic.Add().apply(a, b); }
    /** a − b with broadcasting. */
    public static Var sub(Var a, Var b) { return new Arithmetic.Sub().apply(a, b); }
    /** a·b elementwise with broadcasting. */
    public static Var mul(Var a, Var b) { return new Arithmetic.Mul().apply(a, b); }
    /** a / b elementwise with broadcasting. */
    public static Var div(Var a, Var b) { return new Arithmetic.Div().apply(a, b); }
    /** x + c. */
    public static Var add(Var x, double c) { return new Arithmetic.AddScalar(c).apply(x); }
    /** x − c. */
    public static Var sub(Var x, double c) { return add(x, -c); }
    /** x·c. */
    public static Var mul(Var x, double c) { return new Arithmetic.MulScalar(c).apply(x); }
    /** x / c. */
    public static Var div(Var x, double c) { return mul(x, 1.0 / c); }
    /** xᵖ elementwise. */
    public static Var pow(Var x, double p) { return new Arithmetic.Pow(p).apply(x); }

    // ------------------------------------------------------------------ pointwise

    /** −x. */
    public static Var neg(Var x) { return pointwise(Pointwise.Kind.NEG, x); }
    /** eˣ. */
    public static Var exp(Var x) { return pointwise(Pointwise.Kind.EXP, x); }
    /** Natural logarithm. */
    public static Var log(Var x) { return pointwise(Pointwise.Kind.LOG, x); }
    /** √x. */
    public static Var sqrt(Var x) { return pointwise(Pointwise.Kind.SQRT, x); }
    /** 1/√x. */
    public static Var rsqrt(Var x) { return pointwise(Pointwise.Kind.RSQRT, x); }
    /** Hyperbolic tangent. */
    public static Var tanh(Var x) { return pointwise(Pointwise.Kind.TANH, x); }
    /** 1/(1 + e^(−x)). */
    public static Var sigmoid(Var x) { return pointwise(Pointwise.Kind.SIGMOID, x); }
    /** max(x, 0). */
    public static Var relu(Var x) { return pointwise(Pointwise.Kind.RELU, x); }
    /** x·sigmoid(x). */
    public static Var silu(Var x) { return pointwise(Pointwise.Kind.SILU, x); }
    /** x². */
    public static Var square(Var x) { return pointwise(Pointwise.Kind.SQUARE, x); }
    /** |x|. */
    public static Var abs(Var x) { return pointwise(Pointwise.Kind.ABS, x); }

    private static Var pointwise(Pointwise.Kind k, Var x) { return new Pointwise(k).apply(x); }

    // ------------------------------------------------------------------ reductions

    /** Σ of all elements (0-d). */
    public static Var sum(Var x) { return new Reductions.Sum(null, false, false).apply(x); }
    /** Σ along dim. */
    public static Var sum(Var x, int dim, boolean keepdim) { return new Reductions.Sum(dim, keepdim, false).apply(x); }
    /** Mean of all elements (0-d). */
    public static Var mean(Var x) { return new Reductions.Sum(null, false, true).apply(x); }
    /** Mean along dim. */
    public static Var mean(Var x, int dim, boolean keepdim) { return new Reductions.Sum(dim, keepdim, true).apply(x); }

    // ------------------------------------------------------------------ shapes

    /** Same elements in a new shape (one dimension may be −1). */
    public static Var reshape(Var x, int... shape) { return new Views.Reshape(shape).apply(x); }
    /** Alias of {@link #reshape} (PyTorch's view). */
    public static Var view(Var x, int... shape) { return reshape(x, shape); }
    /** Swaps two dimensions (a view). */
    public static Var transpose(Var x, int d0, int d1) { return new Views.Permute(Views.Permute.swap(x.dim(), d0, d1)).apply(x); }
    /** Reorders dimensions (a view). */
    public static Var permute(Var x, int... order) { return new Views.Permute(order).apply(x); }
    /** Elements [start, start+length) along dim. */
    public static Var narrow(Var x, int dim, int start, int length) { return new Views.Narrow(dim, start, length).apply(x); }
    /** Broadcast to a larger shape (a view). */
    public static Var expand(Var x, int... shape) { return new Views.Expand(shape).apply(x); }
    /** Contiguous layout (a copy when needed). */
    public static Var contiguous(Var x) { return new Views.Contiguous().apply(x); }
    /** Concatenation along dim. */
    public static Var cat(int dim, Var... xs) { return new Views.Cat(dim).apply(xs); }

    // ------------------------------------------------------------------ linear algebra

    /** Batched matrix product over the last two dims (batch dims broadcast; both operands rank ≥ 2). */
    public static Var matmul(Var a, Var b) { return new MatMuls.MatMul().apply(a, b); }
    /** y = x·Wᵀ with W [out, in]. */
    public static Var linear(Var x, Var weight) { return new MatMuls.Linear(false).apply(x, weight); }
    /** y = x·Wᵀ + b with W [out, in] and b [out]. */
    public static Var linear(Var x, Var weight, Var bias) {
        return bias == null ? linear(x, weight) : new MatMuls.Linear(true).apply(x, weight, bias);
    }

    // ------------------------------------------------------------------ nn

    /** Softmax along dim. */
    public static Var softmax(Var x, int dim) { return new Softmax(dim, false).apply(x); }
    /** Log-softmax along dim. */
    public static Var logSoftmax(Var x, int dim) { return new Softmax(dim, true).apply(x); }

    /** Rows of {@code weight} [V, D] picked by I32 {@code ids}: result [ids..., D]. */
    public static Var embedding(Var weight, Tensor ids) { return new Embedding(ids).apply(weight); }

    /** x·rsqrt(mean(x², −1) + eps)·weight (fused). */
    public static Var rmsNorm(Var x, Var weight, double eps) { return new RmsNorm(eps).apply(x, weight); }

    /** Rotary embedding of x [..., T, H, d]; token t sits at position {@code startPos + t}. */
    public static Var rope(Var x, RopeTable table, int startPos) { return new Rope(table, startPos).apply(x); }

    /** silu(gate)·up (fused). */
    public static Var swiglu(Var gate, Var up) { return new SwiGlu().apply(gate, up); }

    /** Causal attention, q [B, Tq, Hq, d], k/v [B, Tk, Hkv, d], scale 1/√d. */
    public static Var causalAttention(Var q, Var k, Var v) { return attention(q, k, v, true, 0, 1 / Math.sqrt(q.size(-1))); }

    /** Causal attention restricted to the last {@code window} keys (0 = no window). */
    public static Var causalAttention(Var q, Var k, Var v, int window) {
        return attention(q, k, v, true, window, 1 / Math.sqrt(q.size(-1)));
    }

    /** Scaled dot-product attention with grouped-query heads (fused; see {@link Attention}). */
    public static Var attention(Var q, Var k, Var v, boolean causal, int window, double scale) {
        return new Attention(causal, window, scale).apply(q, k, v);
    }

    /** Inverted dropout with a seeded stream; identity (the same Var) when not training or p = 0. */
    public static Var dropout(Var x, double p, Rng rng, boolean training) {
        if (!training || p == 0) return x;
        return new Dropout(p, rng).apply(x);
    }

    /** Mean squared error mean((a − b)²) over all elements (PyTorch's {@code mse_loss}, reduction "mean"). */
    public static Var mseLoss(Var a, Var b) { return mean(square(sub(a, b))); }

    /** Mean cross-entropy of logits [..., V] against I32 targets [...]. */
    public static Var crossEntropy(Var logits, Tensor targets) { return crossEntropy(logits, targets, -100); }

    /** Mean cross-entropy over rows whose target is not {@code ignoreIndex} (PyTorch's default is −100). */
    public static Var crossEntropy(Var logits, Tensor targets, int ignoreIndex) {
        return new CrossEntropy(targets, ignoreIndex).apply(logits);
    }
}
