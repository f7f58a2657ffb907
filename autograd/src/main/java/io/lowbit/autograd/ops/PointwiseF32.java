package io.lowbit.autograd.ops;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * F32 kernels for the exponential-based pointwise ops (exp, sigmoid, silu) on {@link Simd#exp}, so their
 * results do not depend on JIT state (see {@link Simd}). Forward and the g·dy/dx of backward for each.
 */
final class PointwiseF32 {
    private PointwiseF32() {}

    /** True when {@code kind} on {@code x} runs here. */
    static boolean handles(Pointwise.Kind kind, Tensor x) {
        return x.dtype() == DType.F32 && (kind == Pointwise.Kind.EXP || kind == Pointwise.Kind.SIGMOID || kind == Pointwise.Kind.SILU);
    }

    static Tensor forward(Pointwise.Kind kind, Tensor x0) {
        Tensor x = x0.contiguous();
        Tensor y = Tensor.empty(DType.F32, x.shape());
        MemorySegment sx = x.segment(), sy = y.segment();
        Parallel.range(x.numel(), 16384, (lo, hi) -> {
            var S = Simd.S;
            long i = lo;
            for (long bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
                FloatVector v = Simd.load(sx, i);
                FloatVector r = switch (kind) {
                    case EXP -> Simd.exp(v);
                    case SIGMOID -> Simd.sigmoid(v);
                    default -> v.mul(Simd.sigmoid(v)); // SILU
                };
                Simd.store(r, sy, i);
            }
            for (; i < hi; i++) {
                double v = Simd.get(sx, i);
                double r = switch (kind) {
                    case EXP -> Math.exp(v);
                    case SIGMOID -> 1 / (1 + Math.exp(-v));
                    default -> v / (1 + Math.exp(-v));
                };
                Simd.set(sy, i, (float) r);
            }
        });
        if (x != x0) x.close();
        return y;
    }

    /** g·dy/dx given the input x and output y (both contiguous, as saved by forward). */
    static Tensor backward(Pointwise.Kind kind, Tensor x, Tensor y, Tensor g0) {
        Tensor g = g0.contiguous();
        Tensor dx = Tensor.empty(DType.F32, x.shape());
        MemorySegment sx = x.segment(), sy = y.segment(), sg = g.segment(), sd = dx.segment();
        long xo = x.offset(), yo = y.offset();
        Parallel.range(x.numel(), 16384, (lo, hi) -> {
            var S = Simd.S;
            long i = lo;
            for (long bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
                FloatVector gv = Simd.load(sg, i), yv = Simd.load(sy, yo + i);
                FloatVector r = switch (kind) {
                    case EXP -> gv.mul(yv);                                   // d eˣ = eˣ
                    case SIGMOID -> gv.mul(yv.mul(yv.neg().add(1f)));         // dσ = σ(1 − σ)
                    default -> {                                              // d silu = σ(1 + x(1 − σ))
                        FloatVector xv = Simd.load(sx, xo + i), sig = Simd.sigmoid(xv);
                        yield gv.mul(sig.mul(xv.mul(sig.neg().add(1f)).add(1f)));
                    }
                };
                Simd.store(r, sd, i);
            }
            for (; i < hi; i++) {
                float gv = Simd.get(sg, i), yv = Simd.get(sy, yo + i), xv = Simd.get(sx, xo + i);
                float r = switch (kind) {
                    case EXP -> gv * yv;
                    case SIGMOID -> gv * (yv * (1 - yv));
                    default -> {
                        float sig = (float) (1 / (1 + Math.exp(-xv)));
                        yield gv * (sig * (xv * (1 - sig) + 1));
                    }
                };
                Simd.set(sd, i, r);
            }
        });
        if (g != g0) g.close();
        return dx;
    }
}
