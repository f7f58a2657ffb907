package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.BackendCase.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import io.lowbit.tensor.testing.NoLeaks;

/** indexSelect, gather, scatterAdd and indexAdd on every backend, against reference loops. */
@org.junit.jupiter.api.extension.ExtendWith(NoLeaks.class)
class BackendIndexTest {

    static java.util.stream.Stream<String> backends() {
        return BackendCase.backends();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void indexSelectAlongEachDimension(String backend) {
        Device d = device(backend);
        Random r = new Random(9);
        int[] s = {7, 31, 5};
        double[] v = uniform(r, 7 * 31 * 5, -1, 1);
        int[] ids = {30, 0, 7, 7, 12, 29, 1};
        try (var _ = MemoryScope.open()) {
            Tensor x = on(f32(v, s), d);
            Tensor idxHost = Tensor.of(ids, ids.length);
            for (Tensor idx : new Tensor[] {idxHost, on(idxHost, d)}) {
                double[] want = new double[7 * ids.length * 5];
                for (int o = 0; o < 7; o++) for (int j = 0; j < ids.length; j++) for (int k = 0; k < 5; k++)
                    want[(o * ids.length + j) * 5 + k] = v[(o * 31 + ids[j]) * 5 + k];
                assertClose(want, new int[] {7, ids.length, 5}, x.indexSelect(1, idx), 0, 0, "indexSelect dim 1 on " + backend);
            }
            // embedding-style lookup of a [2, 3] index grid along dim 0 of a transposed table
            Tensor table = x.select(2, 1).t(); // [31, 7] view
            Tensor grid = Tensor.of(new int[] {3, 0, 30, 3, 5, 6}, 2, 3);
            double[] want = new double[2 * 3 * 7];
            int[] g = {3, 0, 30, 3, 5, 6};
            for (int q = 0; q < 6; q++) for (int c = 0; c < 7; c++) want[q * 7 + c] = v[(c * 31 + g[q]) * 5 + 1];
            assertClose(want, new int[] {2, 3, 7}, table.indexSelect(0, grid), 0, 0, "indexSelect of a strided table on " + backend);
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(1, Tensor.of(new int[] {31}, 1)));
            assertEquals("indexSelect: index 31 out of range [0, 31)", e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gatherAndScatterAddAreInverse(String backend) {
        Device d = device(backend);
        Random r = new Random(10);
        int rows = 33, cols = 7;
        double[] v = uniform(r, rows * cols, -1, 1);
        int[] idx = new int[rows * 3];
        for (int i = 0; i < idx.length; i++) idx[i] = r.nextInt(cols);
        double[] src = uniform(r, rows * 3, -1, 1);
        try (var _ = MemoryScope.open()) {
            Tensor x = on(f32(v, rows, cols), d);
            Tensor ix = on(Tensor.of(idx, rows, 3), d);
            Tensor sv = on(f32(src, rows, 3), d);
            double[] g = new double[rows * 3];
            for (int i = 0; i < rows; i++) for (int j = 0; j < 3; j++) g[i * 3 + j] = v[i * cols + idx[i * 3 + j]];
            assertClose(g, new int[] {rows, 3}, x.gather(1, ix), 0, 0, "gather dim 1 on " + backend);
            double[] sa = v.clone();
            for (int i = 0; i < rows; i++) for (int j = 0; j < 3; j++) sa[i * cols + idx[i * 3 + j]] += src[i * 3 + j];
            assertClose(sa, new int[] {rows, cols}, x.scatterAdd(1, ix, sv), 1e-6, 1e-6, "scatterAdd dim 1 on " + backend);
            // gather along dim 0 of a transposed view
            Tensor xt = x.t(); // [7, 33]
            int[] i0 = new int[2 * rows];
            for (int i = 0; i < i0.length; i++) i0[i] = r.nextInt(cols);
            double[] g0 = new double[2 * rows];
            for (int a = 0; a < 2; a++) for (int b = 0; b < rows; b++) g0[a * rows + b] = v[b * cols + i0[a * rows + b]];
            assertClose(g0, new int[] {2, rows}, xt.gather(0, Tensor.of(i0, 2, rows)), 0, 0, "gather dim 0 of a transposed view on " + backend);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void indexAddAccumulatesRepeatedRows(String backend) {
        Device d = device(backend);
        Random r = new Random(11);
        int[] ids = {4, 0, 4, 4, 6, 0, 1, 2, 3, 4, 5, 6, 6};
        double[] src = uniform(r, ids.length * 9, -1, 1);
        double[] base = uniform(r, 7 * 9, -1, 1);
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (var _ = MemoryScope.open()) {
                Tensor dst0 = f32(base.clone(), 7, 9);
                Tensor dst = on(t == DType.F32 ? dst0 : dst0.to(t), d);
                Tensor s0 = f32(src.clone(), ids.length, 9);
                Tensor s = on(t == DType.F32 ? s0 : s0.to(t), d);
                dst.indexAddInPlace(Tensor.of(ids, ids.length), s);
                double[] want = new double[7 * 9];
                for (int i = 0; i < want.length; i++) want[i] = (float) base[i];
                for (int i = 0; i < ids.length; i++) for (int k = 0; k < 9; k++) want[ids[i] * 9 + k] += (float) src[i * 9 + k];
                assertClose(want, new int[] {7, 9}, dst, 1e-5, 1e-6, "indexAdd " + t + " on " + backend);
            }
        }
    }
}
