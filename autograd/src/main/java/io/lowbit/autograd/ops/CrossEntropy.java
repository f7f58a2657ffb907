package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Lanes;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Fused cross-entropy of logits [..., V] against integer targets [...] (PyTorch's
 * {@code F.cross_entropy} with {@code ignore_index}, reduction "mean"): per row,
 * ℓ = logsumexp(x) − x[target], averaged over rows whose target is not the ignore index (NaN when every
 * row is ignored, as in PyTorch). No softmax or one-hot is stored: forward keeps one log-sum-exp per row,
 * backward writes (softmax(x) − onehot(target))·g/count straight into the logits' gradient, and zeros
 * for ignored rows.
 */
final class CrossEntropy extends Function {
    private final int[] targets;
    private final int ignoreIndex;
    private double[] lse;
    private int count;

    CrossEntropy(Tensor targets, int ignoreIndex) {
        this.targets = targets.toIntArray();
        this.ignoreIndex = ignoreIndex;
    }

    @Override
    protected Tensor forward(Tensor... in) {
        Tensor x = in[0].contiguous();
        int vocab = x.size(-1);
        int rows = (int) (x.numel() / Math.max(vocab, 1));
        if (rows != targets.length)
            throw new IllegalArgumentException("crossEntropy: logits " + Arrays.toString(in[0].shape()) + " have " + rows
                    + " rows but there are " + targets.length + " targets");
        for (int r = 0; r < rows; r++)
            if (targets[r] != ignoreIndex && (targets[r] < 0 || targets[r] >= vocab))
                throw new IllegalArgumentException("crossEntropy: target " + targets[r] + " at row " + r + " outside [0, " + vocab + ")");
        lse = new double[rows];
        if (x.dtype() == DType.F32) {
            MemorySegment s = x.segment();
            Parallel.range(rows, Math.max(1, 16384 / Math.max(1, vocab)), (lo, hi) -> {
                float[] lanes = new float[Simd.S.length()];
                for (long r = lo; r < hi; r++) lse[(int) r] = logSumExpF32(s, r * vocab, vocab, lanes);
            });
        } else {
            double[] xs = x.toDoubleArray();
            for (int r = 0; r < rows; r++) {
                double m = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < vocab; j++) m = Math.max(m, xs[r * vocab + j]);
                for (int j = 0; j < vocab; j++) sum += Math.exp(xs[r * vocab + j] - m);
                lse[r] = m + Math.log(sum);
            }
        }
        double total = 0;
        count = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignoreIndex) continue;
            total += lse[r] - x.getDouble((long) r * vocab + targets[r]);
            count++;
        }
        saveForBackward(x);
        return Tensor.scalar(x.dtype(), count == 0 ? Double.NaN : total / count);
    }

    /** log Σ e^x over x = s[base .. base+n); lanes is scratch of Simd.S.length() floats. */
    static double logSumExpF32(MemorySegment s, long base, int n, float[] lanes) {
        var S = Simd.S;
        int j = 0, bound = S.loopBound(n);
        float m = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; j < bound; j += S.length()) vm = vm.max(Simd.load(s, base + j));
            m = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; j < n; j++) m = Math.max(m, Simd.get(s, base + j));
        expSum(s, base, bound, m, lanes);
        double sum = Lanes.sum(lanes, 0);
        for (j = bound; j < n; j++) sum += Math.exp(Simd.get(s, base + j) - m);
        return m + Math.log(sum);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0);
        int vocab = x.size(-1);
        int rows = targets.length;
        Tensor dx = Tensor.empty(x.dtype(), x.shape());
        double coef = count == 0 ? 0 : g.item() / count;
        if (x.dtype() == DType.F32) {
            MemorySegment s = x.segment(), o = dx.segment();
            float c = (float) coef;
            Parallel.range(rows, Math.max(1, 16384 / Math.max(1, vocab)), (lo, hi) -> {
                var S = Simd.S;
                for (long r = lo; r < hi; r++) {
                    long b = r * vocab;
                    int t = targets[(int) r];
                    if (t == ignoreIndex) {
                        o.asSlice(b * 4, vocab * 4L).fill((byte) 0);
                        continue;
                    }
                    float l = (float) lse[(int) r];
                    int j = 0;
                    for (int bound = S.loopBound(vocab); j < bound; j += S.length())
                        Simd.exp(FloatVector.fromMemorySegment(S, s, 4 * (b + j), Simd.LE).sub(l)).mul(c).intoMemorySegment(o, 4 * (b + j), Simd.LE);
                    for (; j < vocab; j++) Simd.set(o, b + j, (float) Math.exp(Simd.get(s, b + j) - l) * c);
                    Simd.set(o, b + t, Simd.get(o, b + t) - c);
                }
            });
        } else {
            for (int r = 0; r < rows; r++) {
                int t = targets[r];
                for (int j = 0; j < vocab; j++) {
                    long i = (long) r * vocab + j;
                    double p = t == ignoreIndex ? 0 : Math.exp(x.getDouble(i) - lse[r]);
                    dx.setDouble(i, t == ignoreIndex ? 0 : coef * (p - (j == t ? 1 : 0)));
                }
            }
        }
        return new Tensor[] {dx};
    }

    /**
     * lanes[0 .. L) = lane-wise Σ e^(s[base + j] − m) over j in [0, bound) (whole vectors). A method of its own
     * that hands the sums back through an array: after the exp C2 declines to inline further calls, and a
     * lane sum called there would take its vector boxed and run the Vector API's scalar fallback.
     */
    private static void expSum(MemorySegment s, long base, int bound, float m, float[] lanes) {
        FloatVector acc = FloatVector.zero(Simd.S);
        for (int j = 0; j < bound; j += Simd.S.length())
            acc = acc.add(Simd.exp(FloatVector.fromMemorySegment(Simd.S, s, 4 * (base + j), Simd.LE).sub(m)));
        acc.intoArray(lanes, 0);
    }
}
