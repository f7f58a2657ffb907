package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * RMSNorm (Zhang &amp; Sennrich 2019, eq. 4): y = x / sqrt(mean(x²) + eps) · w over the last dimension.
 * Rows run in parallel; each row is one pass for the sum of squares and one for the scaled product.
 */
final class RmsNorm {
    private RmsNorm() {}

    static Tensor forward(Tensor x, Tensor weight, double eps, Tensor invRmsOut) {
        Kernels.f32("rmsNorm", "x", x);
        Kernels.f32("rmsNorm", "weight", weight);
        if (x.dim() < 1) throw new IllegalArgumentException("rmsNorm: x must have at least one dimension");
        int d = x.size(-1);
        if (weight.dim() != 1 || weight.size(0) != d)
            throw new IllegalArgumentException("rmsNorm: weight " + Arrays.toString(weight.shape()) + " does not match x "
                    + Arrays.toString(x.shape()) + " (need [" + d + "])");
        long rows = d == 0 ? 0 : x.numel() / d;
        if (invRmsOut != null) {
            Kernels.f32("rmsNorm", "invRmsOut", invRmsOut);
            if (invRmsOut.numel() != rows)
                throw new IllegalArgumentException("rmsNorm: invRmsOut " + Arrays.toString(invRmsOut.shape()) + " must hold "
                        + rows + " values, one per row of x " + Arrays.toString(x.shape()));
        }
        Tensor y = Tensor.empty(DType.F32, x.shape());
        MemorySegment sx = x.segment(), sw = weight.segment(), sy = y.segment();
        MemorySegment sr = invRmsOut == null ? null : invRmsOut.segment();
        long xb0 = x.byteOffset(), wb = weight.byteOffset(), rb0 = invRmsOut == null ? 0 : invRmsOut.byteOffset();
        Parallel.range(rows, Math.max(1, 8192 / Math.max(1, d)), (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                long xb = xb0 + r * d * 4L, yb = r * d * 4L;
                float inv = (float) (1 / Math.sqrt(sumSquares(sx, xb, d) / d + eps));
                if (sr != null) sr.set(FL, rb0 + 4L * r, inv);
                FloatVector vinv = FloatVector.broadcast(F, inv);
                int j = 0;
                for (int bound = F.loopBound(d); j < bound; j += F.length()) {
                    FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, Elementwise.LE);
                    FloatVector w = FloatVector.fromMemorySegment(F, sw, wb + 4L * j, Elementwise.LE);
                    v.mul(vinv).mul(w).intoMemorySegment(sy, yb + 4L * j, Elementwise.LE);
                }
                for (; j < d; j++) sy.set(FL, yb + 4L * j, sx.get(FL, xb + 4L * j) * inv * sw.get(FL, wb + 4L * j));
            }
        });
        return y;
    }

    /** Σ x² over one row, vector lanes in float, total in double. */
    static double sumSquares(MemorySegment s, long b, int n) {
        FloatVector acc = FloatVector.zero(F);
        int j = 0;
        for (int bound = F.loopBound(n); j < bound; j += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, s, b + 4L * j, Elementwise.LE);
            acc = v.fma(v, acc);
        }
        double sum = Lanes.sum(acc);
        for (; j < n; j++) {
            double v = s.get(FL, b + 4L * j);
            sum += v * v;
        }
        return sum;
    }
}
