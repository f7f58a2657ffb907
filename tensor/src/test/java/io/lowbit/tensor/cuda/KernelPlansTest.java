package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's kernel arguments, checked without a GPU: each plan is interpreted here exactly as
 * its kernel reads it (same index formulas as in {@link KernelSource}) over the storage of a strided CPU
 * view, and the result must equal the CPU backend's answer for that view.
 */
class KernelPlansTest {
    private static long liveAtStart;

    @BeforeAll
    static void start() {
        liveAtStart = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(liveAtStart, Allocator.liveBytes(), "host live bytes after KernelPlansTest");
    }

    // the whole storage of a view as doubles, indexed by storage element index (the kernels' raw pointer)
    private static double[] storage(Tensor base) {
        assertTrue(base.isContiguous() && base.offset() == 0);
        return base.toDoubleArray();
    }

    // a [7, 33, 5] F64 base and strided views of it, some with nonzero offsets
    private static Tensor[] views(Tensor base) {
        return new Tensor[] {base, base.transpose(0, 2), base.narrow(1, 3, 29), base.permute(1, 2, 0).narrow(0, 2, 31), base.select(2, 3),
                base.narrow(0, 6, 1).expand(4, 33, 5)};
    }

    @Test
    void reducePlansReadWhatTheCpuReduces() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.uniform(DType.F64, new Rng(1), -1, 1, 7, 33, 5);
            double[] st = storage(base);
            for (Tensor v : views(base))
                for (int dim = 0; dim < v.dim(); dim++)
                    for (boolean keep : new boolean[] {false, true}) {
                        KernelPlans.Reduce p = KernelPlans.reduce(v, dim, keep);
                        Tensor want = v.sum(dim, keep);
                        assertArrayEquals(want.shape(), p.outShape());
                        double[] w = want.toDoubleArray();
                        for (long o = 0; o < w.length; o++) {
                            long baseIdx = Layout.at(p.kept(), o);
                            double s = 0;
                            for (long r = 0; r < p.len(); r++) s += st[(int) (baseIdx + Layout.at(p.reduced(), r))];
                            assertEquals(w[(int) o], s, 1e-12, "sum dim " + dim + " of view " + Arrays.toString(v.shape()) + " output " + o);
                        }
                    }
        }
    }

    @Test
    void sumToPlansReadWhatTheCpuSums() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.uniform(DType.F64, new Rng(2), -1, 1, 7, 33, 5);
            double[] st = storage(base);
            for (Tensor v : views(base)) {
                int[] s = v.shape();
                int r = s.length;
                int[][] targets = {s, {s[r - 1]}, {1, s[r - 1]}, Arrays.copyOfRange(s, 1, r), {}};
                for (int[] t0 : targets) {
                    int[] t = t0.clone();
                    if (t.length == r && r > 1) t[0] = 1;
                    KernelPlans.Reduce p = KernelPlans.sumTo(v, t);
                    double[] w = v.sumTo(t).toDoubleArray();
                    assertEquals(Shape.numel(t), w.length);
                    for (long o = 0; o < w.length; o++) {
                        long b = Layout.at(p.kept(), o);
                        double sum = 0;
                        for (long q = 0; q < p.len(); q++) sum += st[(int) (b + Layout.at(p.reduced(), q))];
                        assertEquals(w[(int) o], sum, 1e-12, "sumTo " + Arrays.toString(t) + " of " + Arrays.toString(s) + " output " + o);
                    }
                }
            }
        }
    }

    @Test
    void softmaxPlansVisitEveryRow() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.uniform(DType.F64, new Rng(3), -3, 3, 7, 33, 5);
            double[] st = storage(base);
            for (Tensor v : views(base))
                for (int dim = 0; dim < v.dim(); dim++) {
                    long[] os = Shape.contiguousStrides(v.shape());
                    KernelPlans.Softmax p = KernelPlans.softmax(v, dim, os);
                    double[] out = new double[(int) v.numel()];
                    for (long o = 0; o < p.rows(); o++) {
                        long bx = Layout.at(p.keptX(), o), bo = Layout.at(p.keptOut(), o);
                        double m = st[(int) bx], sum = 0;
                        for (long j = 0; j < p.len(); j++) m = Math.max(m, st[(int) (bx + j * p.xStride())]);
                        for (long j = 0; j < p.len(); j++) sum += Math.exp(st[(int) (bx + j * p.xStride())] - m);
                        for (long j = 0; j < p.len(); j++) out[(int) (bo + j * p.outStride())] = Math.exp(st[(int) (bx + j * p.xStride())] - m) / sum;
                    }
                    double[] w = v.softmax(dim).toDoubleArray();
                    for (int i = 0; i < w.length; i++) assertEquals(w[i], out[i], 1e-12, "softmax dim " + dim + " of " + Arrays.toString(v.shape()));
                }
        }
    }

    @Test
    void gatherAndScatterPlansMoveTheRightElements() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.uniform(DType.F64, new Rng(4), -1, 1, 7, 33, 5);
            double[] st = storage(base);
            Rng rng = new Rng(5);
            for (Tensor v : views(base)) {
                int[] s = v.shape();
                for (int dim = 0; dim < s.length; dim++) {
                    int[] is = s.clone();
                    is[dim] = 3;
                    for (int a = 0; a < is.length; a++) if (a != dim && is[a] > 2) is[a] -= 1; // index smaller than the input
                    int[] ids = new int[(int) Shape.numel(is)];
                    long start = rng.advance(ids.length);
                    for (int i = 0; i < ids.length; i++) ids[i] = (int) Math.min(s[dim] - 1, rng.uniformAt(start + i) * s[dim]);
                    Tensor idx = Tensor.of(ids, is);
                    KernelPlans.Gather p = KernelPlans.gather(is, v.strides(), v.offset(), dim);
                    double[] want = v.gather(dim, idx).toDoubleArray();
                    for (int i = 0; i < ids.length; i++) {
                        long pos = (i / p.after()) % p.dimSize();
                        long e = Layout.at(p.atIndex(), i) + (ids[i] - pos) * p.dimStride();
                        assertEquals(want[i], st[(int) e], 0, "gather dim " + dim + " of " + Arrays.toString(s) + " element " + i);
                    }
                    // scatter_add into a contiguous copy, as the backend does
                    Tensor src = Tensor.uniform(DType.F64, rng, -1, 1, is);
                    Tensor c = v.copy();
                    double[] out = c.toDoubleArray(), sv = src.toDoubleArray();
                    KernelPlans.Gather q = KernelPlans.gather(is, c.strides(), 0, dim);
                    for (int i = 0; i < ids.length; i++) {
                        long pos = (i / q.after()) % q.dimSize();
                        out[(int) (Layout.at(q.atIndex(), i) + (ids[i] - pos) * q.dimStride())] += sv[i];
                    }
                    assertArrayEquals(v.scatterAdd(dim, idx, src).toDoubleArray(), out, 1e-12, "scatterAdd dim " + dim + " of " + Arrays.toString(s));
                }
            }
        }
    }

    @Test
    void indexAddPlanWritesIntoAStridedDestination() {
        try (var _ = MemoryScope.open()) {
            Tensor base = Tensor.zeros(DType.F64, 9, 7, 4);
            Tensor dst = base.permute(1, 0, 2).narrow(1, 2, 5); // [7, 5, 4] view with an offset
            int[] ids = {6, 0, 6, 3};
            Tensor src = Tensor.uniform(DType.F64, new Rng(6), -1, 1, 4, 5, 4);
            KernelPlans.IndexAdd p = KernelPlans.indexAdd(dst, src.size(0), src.numel());
            double[] st = new double[(int) base.numel()], sv = src.toDoubleArray();
            for (long e = 0; e < src.numel(); e++) {
                long i = e / p.rowElems(), k = e - i * p.rowElems();
                st[(int) (Layout.at(p.row(), k) + ids[(int) i] * p.dimStride0())] += sv[(int) e];
            }
            dst.indexAddInPlace(Tensor.of(ids, 4), src);
            assertArrayEquals(base.toDoubleArray(), st, 1e-12);
        }
    }
}
