package io.lowbit.tensor.cpu;

import static io.lowbit.tensor.cpu.Kernels.F;
import static io.lowbit.tensor.cpu.Kernels.FL;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** SwiGLU (Shazeer 2020, eq. 6 without the projections): out = silu(gate)·up = gate·σ(gate)·up. */
final class SwiGlu {
    private SwiGlu() {}

    static Tensor forward(Tensor gate, Tensor up) {
        Kernels.f32("swiglu", "gate", gate);
        Kernels.f32("swiglu", "up", up);
        if (!Arrays.equals(gate.shape(), up.shape()))
            throw new IllegalArgumentException("swiglu: gate " + Arrays.toString(gate.shape()) + " and up " + Arrays.toString(up.shape()) + " differ");
        Tensor out = Tensor.empty(DType.F32, gate.shape());
        MemorySegment sg = gate.segment(), su = up.segment(), so = out.segment();
        long gb = gate.byteOffset(), ub = up.byteOffset();
        long n = gate.numel();
        int chunk = 4096;
        Parallel.range((n + chunk - 1) / chunk, 8, (lo, hi) -> {
            FloatVector one = FloatVector.broadcast(F, 1f);
            long end = Math.min(n, hi * chunk);
            long j = lo * chunk;
            for (long bound = end - F.length(); j <= bound; j += F.length()) {
                FloatVector g = FloatVector.fromMemorySegment(F, sg, gb + 4 * j, Elementwise.LE);
                FloatVector u = FloatVector.fromMemorySegment(F, su, ub + 4 * j, Elementwise.LE);
                g.div(one.add(g.neg().lanewise(VectorOperators.EXP))).mul(u).intoMemorySegment(so, 4 * j, Elementwise.LE);
            }
            for (; j < end; j++) {
                float g = sg.get(FL, gb + 4 * j);
                so.set(FL, 4 * j, (float) (g / (1 + Math.exp(-g))) * su.get(FL, ub + 4 * j));
            }
        });
        return out;
    }
}
