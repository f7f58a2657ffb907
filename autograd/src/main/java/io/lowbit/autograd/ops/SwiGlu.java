package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * Fused SwiGLU gate (Shazeer 2020, eq. 6 with Swish₁ = SiLU): y = silu(a)·b with σ = sigmoid(a).
 * ∂/∂a = g·b·σ·(1 + a·(1 − σ)), ∂/∂b = g·a·σ. Saves a and b; σ is recomputed in backward.
 */
final class SwiGlu extends Function {
    @Override
    protected Tensor forward(Tensor... in) {
        if (!Arrays.equals(in[0].shape(), in[1].shape()))
            throw new IllegalArgumentException("swiglu: gate " + Arrays.toString(in[0].shape()) + " and up " + Arrays.toString(in[1].shape()) + " differ");
        Tensor a = in[0].contiguous(), b = in[1].contiguous();
        saveForBackward(a, b);
        Tensor y = Tensor.empty(a.dtype(), a.shape());
        long n = a.numel();
        if (a.dtype() == DType.F32) {
            MemorySegment sa = a.segment(), sb = b.segment(), sy = y.segment();
            Parallel.range(n, 16384, (lo, hi) -> {
                long j = forwardVectors(sa, sb, sy, lo, hi);
                for (; j < hi; j++) {
                    float v = Simd.get(sa, j);
                    Simd.set(sy, j, (float) (v / (1 + Math.exp(-v))) * Simd.get(sb, j));
                }
            });
        } else {
            for (long j = 0; j < n; j++) {
                double v = a.getDouble(j);
                y.setDouble(j, v / (1 + Math.exp(-v)) * b.getDouble(j));
            }
        }
        return y;
    }

    @Override
    protected Tensor[] backward(Tensor g0) {
        Tensor a = saved(0), b = saved(1);
        Tensor g = g0.contiguous();
        Tensor da = needsInputGrad(0) ? Tensor.empty(a.dtype(), a.shape()) : null;
        Tensor db = needsInputGrad(1) ? Tensor.empty(a.dtype(), a.shape()) : null;
        long n = a.numel();
        if (a.dtype() == DType.F32) {
            MemorySegment sa = a.segment(), sb = b.segment(), sg = g.segment();
            MemorySegment sda = da == null ? null : da.segment(), sdb = db == null ? null : db.segment();
            Parallel.range(n, 16384, (lo, hi) -> {
                long j = backwardVectors(sa, sb, sg, sda, sdb, lo, hi);
                for (; j < hi; j++) {
                    float v = Simd.get(sa, j), gv = Simd.get(sg, j);
                    float sig = (float) (1 / (1 + Math.exp(-v)));
                    if (sda != null) Simd.set(sda, j, gv * Simd.get(sb, j) * (sig * (1 + v * (1 - sig))));
                    if (sdb != null) Simd.set(sdb, j, gv * (v * sig));
                }
            });
        } else {
            for (long j = 0; j < n; j++) {
                double v = a.getDouble(j), gv = g.getDouble(j), sig = 1 / (1 + Math.exp(-v));
                if (da != null) da.setDouble(j, gv * b.getDouble(j) * sig * (1 + v * (1 - sig)));
                if (db != null) db.setDouble(j, gv * v * sig);
            }
        }
        if (g != g0) g.close();
        return new Tensor[] {da, db};
    }

    // The vector loops sit alone in their own methods and call the Vector API's loads and stores directly:
    // C2 stops inlining ordinary methods once a compilation has created ~18000 nodes, which the sigmoid's
    // polynomial nearly uses up, and a store left as a call takes its vector boxed and runs the API's scalar
    // fallback (the backward pass allocated ~5 GB a minute and ran 6x slower than the forward). The API's own
    // methods are force-inlined past that limit.

    /** y[j] = silu(a[j])·b[j] over whole vectors from lo; returns the first index left for the scalar tail. */
    private static long forwardVectors(MemorySegment sa, MemorySegment sb, MemorySegment sy, long lo, long hi) {
        var S = Simd.S;
        long j = lo;
        for (long bound = lo + S.loopBound(hi - lo); j < bound; j += S.length()) {
            FloatVector va = FloatVector.fromMemorySegment(S, sa, 4 * j, Simd.LE), vb = FloatVector.fromMemorySegment(S, sb, 4 * j, Simd.LE);
            va.mul(Simd.sigmoid(va)).mul(vb).intoMemorySegment(sy, 4 * j, Simd.LE);
        }
        return j;
    }

    /** da[j] = g·b·σ·(1 + a·(1 − σ)) and db[j] = g·a·σ (either null: skipped) over whole vectors from lo; returns where the tail starts. */
    private static long backwardVectors(MemorySegment sa, MemorySegment sb, MemorySegment sg, MemorySegment sda, MemorySegment sdb, long lo, long hi) {
        var S = Simd.S;
        long j = lo;
        for (long bound = lo + S.loopBound(hi - lo); j < bound; j += S.length()) {
            FloatVector va = FloatVector.fromMemorySegment(S, sa, 4 * j, Simd.LE), vg = FloatVector.fromMemorySegment(S, sg, 4 * j, Simd.LE);
            FloatVector vb = FloatVector.fromMemorySegment(S, sb, 4 * j, Simd.LE);
            FloatVector sig = Simd.sigmoid(va);
            if (sda != null) vg.mul(vb).mul(sig.mul(va.mul(sig.neg().add(1f)).add(1f))).intoMemorySegment(sda, 4 * j, Simd.LE);
            if (sdb != null) vg.mul(va.mul(sig)).intoMemorySegment(sdb, 4 * j, Simd.LE);
        }
        return j;
    }
}
