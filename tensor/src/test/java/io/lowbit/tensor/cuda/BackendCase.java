package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.Device;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Shared plumbing of the op suites that run against every backend: the backend names, the device of a
 * name (a CUDA case on a machine without CUDA is reported as skipped, with the probe's reason), moving
 * tensors there and back, and comparison with a plain reference loop.
 */
final class BackendCase {
    private BackendCase() {}

    /** Every backend the suites run against. */
    static Stream<String> backends() {
        return Stream.of("cpu", "cuda");
    }

    /** The device of a backend name; skips (with the reason) when that backend is absent here. */
    static Device device(String name) {
        if (name.equals("cpu")) return Device.CPU;
        CudaStatus st = CudaProbe.status();
        Assumptions.assumeTrue(st.available(), () -> "CUDA case not run on this machine: " + st.describe());
        return Device.CUDA;
    }

    /** A copy of t on d (joins the open MemoryScope). */
    static Tensor on(Tensor t, Device d) {
        return Devices.to(t, d);
    }

    /** All of t's elements on the host, row-major. */
    static double[] host(Tensor t) {
        if (t.device() == Device.CPU) return t.toDoubleArray();
        try (Tensor h = Devices.to(t, Device.CPU)) {
            return h.toDoubleArray();
        }
    }

    /** Checks |actual − expected| ≤ atol + rtol·|expected| elementwise (NaN must meet NaN), and the shape. */
    static void assertClose(double[] expected, int[] shape, Tensor actual, double rtol, double atol, String what) {
        assertArrayEquals(shape, actual.shape(), what + ": shape");
        double[] a = host(actual);
        assertEquals(expected.length, a.length, what + ": element count");
        for (int i = 0; i < a.length; i++) {
            double e = expected[i];
            if (Double.isNaN(e)) {
                assertTrue(Double.isNaN(a[i]), what + ": element " + i + " should be NaN, got " + a[i]);
                continue;
            }
            if (Double.isInfinite(e)) {
                assertEquals(e, a[i], what + ": element " + i);
                continue;
            }
            assertTrue(Math.abs(a[i] - e) <= atol + rtol * Math.abs(e),
                    what + ": element " + i + " expected " + e + " got " + a[i] + " (shape " + Arrays.toString(shape) + ")");
        }
    }

    /** Uniform values in [lo, hi) as a double array. */
    static double[] uniform(Random r, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * r.nextDouble();
        return v;
    }

    /** F32 tensor of the values (rounded to float), and the rounded values back in {@code v}. */
    static Tensor f32(double[] v, int... shape) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
            v[i] = f[i];
        }
        return Tensor.of(f, shape);
    }

    /** Row-major strides of a shape. */
    static long[] strides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            s[d] = acc;
            acc *= shape[d];
        }
        return s;
    }

    /** Multi-index of flat index i. */
    static int[] unravel(long i, int[] shape) {
        int[] p = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            p[d] = (int) (i % shape[d]);
            i /= shape[d];
        }
        return p;
    }

    /** Flat index of a multi-index, with size-1 (broadcast) dimensions of {@code shape} read at 0, right-aligned. */
    static long broadcastIndex(int[] pos, int[] shape) {
        int lead = pos.length - shape.length;
        long e = 0;
        for (int d = 0; d < shape.length; d++) e = e * shape[d] + (shape[d] == 1 ? 0 : pos[lead + d]);
        return e;
    }
}
