package io.lowbit.tensor.cuda;

import static io.lowbit.tensor.cuda.BackendCase.*;
import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.BinaryOp;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.UnaryOp;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import io.lowbit.tensor.testing.NoLeaks;

/** Elementwise ops, copies and dtype conversions on every backend, against their scalar definitions. */
@org.junit.jupiter.api.extension.ExtendWith(NoLeaks.class)
class BackendElementwiseTest {

    static java.util.stream.Stream<String> backends() {
        return BackendCase.backends();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void unaryOpsMatchTheirScalarDefinitions(String backend) {
        Device d = device(backend);
        Random r = new Random(1);
        int[] shape = {7, 33};
        for (UnaryOp op : UnaryOp.values()) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.POW_SCALAR;
            double c = op == UnaryOp.POW_SCALAR ? 1.7 : 0.25;
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                try (var _ = MemoryScope.open()) {
                    double[] v = uniform(r, 7 * 33, positive ? 0.05 : -3, 3);
                    if (op == UnaryOp.ROUND) for (int i = 0; i < v.length; i += 3) v[i] = Math.floor(v[i]) + 0.5; // ties go to even
                    Tensor x0 = f32(v, shape);
                    Tensor x = t == DType.F32 ? x0 : x0.to(DType.F64);
                    Tensor xd = on(x, d);
                    double[] want = new double[v.length];
                    for (int i = 0; i < v.length; i++) want[i] = t == DType.F32 ? (float) op.apply(v[i], c) : op.apply(v[i], c);
                    double tol = t == DType.F32 ? 2e-6 : 1e-14;
                    assertClose(want, shape, xd.backend().unary(op, xd, c), tol, tol, op + " " + t + " on " + backend);
                    // a transposed (strided) input gives the transposed result
                    Tensor tr = xd.t();
                    double[] wantT = new double[v.length];
                    for (int i = 0; i < 33; i++) for (int j = 0; j < 7; j++) wantT[i * 7 + j] = want[j * 33 + i];
                    assertClose(wantT, new int[] {33, 7}, tr.backend().unary(op, tr, c), tol, tol, op + " " + t + " transposed on " + backend);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void binaryOpsBroadcast(String backend) {
        Device d = device(backend);
        Random r = new Random(2);
        int[][][] pairs = {{{7, 1, 33}, {5, 1}}, {{31}, {65, 31}}, {{1}, {1}}, {{3, 1, 1}, {1, 63}}, {{129}, {129}}};
        for (int[][] p : pairs) {
            for (BinaryOp op : BinaryOp.values()) {
                try (var _ = MemoryScope.open()) {
                    int[] sa = p[0], sb = p[1];
                    int[] s = io.lowbit.tensor.Shape.broadcast(sa, sb);
                    double[] va = uniform(r, (int) io.lowbit.tensor.Shape.numel(sa), -2, 2);
                    double[] vb = uniform(r, (int) io.lowbit.tensor.Shape.numel(sb), 0.5, 2);
                    Tensor a = on(f32(va, sa), d), b = on(f32(vb, sb), d);
                    double[] want = new double[(int) io.lowbit.tensor.Shape.numel(s)];
                    for (int i = 0; i < want.length; i++) {
                        int[] pos = unravel(i, s);
                        want[i] = (float) op.apply(va[(int) broadcastIndex(pos, sa)], vb[(int) broadcastIndex(pos, sb)]);
                    }
                    assertClose(want, s, a.backend().binary(op, a, b), 1e-6, 1e-7, op + " " + java.util.Arrays.toString(sa) + "·"
                            + java.util.Arrays.toString(sb) + " on " + backend);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void maxMinPropagateNaN(String backend) {
        Device d = device(backend);
        try (var _ = MemoryScope.open()) {
            Tensor a = on(Tensor.of(new float[] {1, Float.NaN, 3}, 3), d), b = on(Tensor.of(new float[] {Float.NaN, 2, 1}, 3), d);
            assertClose(new double[] {Double.NaN, Double.NaN, 3}, new int[] {3}, a.maximum(b), 0, 0, "maximum with NaN on " + backend);
            assertClose(new double[] {Double.NaN, Double.NaN, 1}, new int[] {3}, a.minimum(b), 0, 0, "minimum with NaN on " + backend);
            assertClose(new double[] {1, Double.NaN, 3}, new int[] {3}, a.clampMin(0.5).clampMax(5), 0, 0, "clamps keep NaN on " + backend);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void fillAxpyScaleAndCopyIntoViews(String backend) {
        Device d = device(backend);
        Random r = new Random(3);
        try (var _ = MemoryScope.open()) {
            double[] vx = uniform(r, 31 * 7, -1, 1), vy = uniform(r, 31 * 7, -1, 1);
            Tensor x = on(f32(vx, 31, 7), d), y = on(f32(vy, 31, 7), d);
            y.addInPlace(x, 0.5);
            double[] want = new double[vx.length];
            for (int i = 0; i < want.length; i++) want[i] = (float) (vy[i] + (float) 0.5 * vx[i]);
            assertClose(want, new int[] {31, 7}, y, 1e-6, 1e-7, "axpy on " + backend);
            y.mulInPlace(-2);
            for (int i = 0; i < want.length; i++) want[i] = (float) (want[i] * -2);
            assertClose(want, new int[] {31, 7}, y, 1e-6, 1e-7, "scale on " + backend);
            // fill a narrowed view: only the view changes
            y.narrow(1, 2, 3).fill(4.5);
            for (int i = 0; i < 31; i++) for (int j = 2; j < 5; j++) want[i * 7 + j] = 4.5;
            assertClose(want, new int[] {31, 7}, y, 1e-6, 1e-7, "fill of a view on " + backend);
            // copy a broadcast row into a transposed destination
            Tensor z = on(Tensor.zeros(DType.F32, 7, 31), d);
            Tensor row = on(Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7}, 7), d);
            z.t().copyFrom(row);
            double[] wz = new double[7 * 31];
            for (int i = 0; i < 7; i++) for (int j = 0; j < 31; j++) wz[i * 31 + j] = i + 1;
            assertClose(wz, new int[] {7, 31}, z, 0, 0, "copy of a broadcast row into a transposed view on " + backend);
            // contiguous() and copy() of a view stay on the device
            Tensor c = x.t().contiguous();
            assertEquals(d, c.device());
            double[] wt = new double[vx.length];
            for (int i = 0; i < 7; i++) for (int j = 0; j < 31; j++) wt[i * 31 + j] = vx[j * 7 + i];
            assertClose(wt, new int[] {7, 31}, c, 0, 0, "contiguous of a transposed view on " + backend);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void dtypeConversionsMatchTheCpuDefinition(String backend) {
        Device d = device(backend);
        // ties for bf16 (1 + 2^-8 lies halfway), f16 subnormals, overflow, NaN, infinities, integer saturation and ties
        float[] special = {0f, -0f, 1f, 1.00390625f, 1.01171875f, -1.00390625f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-9f, 65504f, 65519f, 65520f, 1e6f,
                Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 2.5f, 3.5f, -2.5f, 127.5f, 128f, -129f, 255.5f, 300f, 3e9f, -3e9f, 0.49999997f};
        Random r = new Random(4);
        float[] v = new float[special.length + 129];
        System.arraycopy(special, 0, v, 0, special.length);
        for (int i = special.length; i < v.length; i++) v[i] = (float) ((r.nextDouble() - 0.5) * Math.pow(2, r.nextInt(40) - 20));
        try (var _ = MemoryScope.open()) {
            Tensor x = Tensor.of(v, v.length);
            Tensor xd = on(x, d);
            for (DType to : DType.values()) {
                Tensor want = x.to(to);                 // the CPU's definition (Half, storeAt)
                Tensor got = xd.to(to);
                assertEquals(d, got.device());
                double[] w = want.toDoubleArray(), g = host(got);
                for (int i = 0; i < v.length; i++)
                    assertTrue(Double.compare(w[i], g[i]) == 0 || (Double.isNaN(w[i]) && Double.isNaN(g[i])),
                            "F32 " + v[i] + " → " + to + ": expected " + w[i] + " got " + g[i] + " on " + backend);
                // and back to F32
                Tensor back = got.to(DType.F32);
                double[] b = host(back), wb = want.to(DType.F32).toDoubleArray();
                for (int i = 0; i < v.length; i++)
                    assertTrue(Double.compare(wb[i], b[i]) == 0 || (Double.isNaN(wb[i]) && Double.isNaN(b[i])),
                            to + " → F32 of " + v[i] + ": expected " + wb[i] + " got " + b[i] + " on " + backend);
            }
        }
    }
}
