package io.lowbit.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;

/** Helpers shared by the tensor tests: operands in several memory layouts and tolerant comparisons. */
final class TestSupport {
    private TestSupport() {}

    /** The odd sizes every fast kernel is checked on (tails of every vector width, one-off edges). */
    static final int[] SIZES = {1, 7, 31, 33, 63, 65, 127, 129, 1000};

    /** How a logical [rows, cols] operand is laid out in memory. */
    enum Layout {
        /** row-major, offset 0 */
        CONTIGUOUS,
        /** a [cols, rows] tensor transposed: unit stride down the rows */
        TRANSPOSED,
        /** columns [2, 2+cols) of a wider tensor: gaps between rows and a non-zero offset */
        NARROWED,
        /** one row repeated (row stride 0) */
        EXPANDED_ROWS,
        /** one column repeated (column stride 0) */
        EXPANDED_COLS
    }

    /** Uniform random values in [lo, hi). */
    static void fillUniform(Tensor t, Random r, double lo, double hi) {
        for (long i = 0, n = t.numel(); i < n; i++) t.setDouble(i, lo + (hi - lo) * r.nextDouble());
    }

    /** A [rows, cols] operand with the given layout and random values (allocated in the current scope). */
    static Tensor make(DType dt, Layout l, int rows, int cols, Random r, double lo, double hi) {
        Tensor t = switch (l) {
            case CONTIGUOUS -> Tensor.empty(dt, rows, cols);
            case TRANSPOSED -> Tensor.empty(dt, cols, rows).t();
            case NARROWED -> Tensor.empty(dt, rows, cols + 5).narrow(1, 2, cols);
            case EXPANDED_ROWS -> Tensor.empty(dt, 1, cols).expand(rows, cols);
            case EXPANDED_COLS -> Tensor.empty(dt, rows, 1).expand(rows, cols);
        };
        if (l == Layout.EXPANDED_ROWS || l == Layout.EXPANDED_COLS) {
            // fill the base through a non-expanded view so each stored value is written once
            Tensor base = l == Layout.EXPANDED_ROWS ? t.narrow(0, 0, 1) : t.narrow(1, 0, 1);
            fillUniform(base, r, lo, hi);
        } else {
            fillUniform(t, r, lo, hi);
        }
        return t;
    }

    /** Random contiguous tensor. */
    static Tensor rand(DType dt, Random r, double lo, double hi, int... shape) {
        Tensor t = Tensor.empty(dt, shape);
        fillUniform(t, r, lo, hi);
        return t;
    }

    static void assertClose(double expected, double actual, double rtol, double atol, String what) {
        if (Double.isNaN(expected)) {
            if (!Double.isNaN(actual)) fail(what + ": expected NaN, got " + actual);
            return;
        }
        if (Double.isInfinite(expected)) {
            assertEquals(expected, actual, what);
            return;
        }
        if (!(Math.abs(expected - actual) <= atol + rtol * Math.abs(expected)))
            fail(what + ": expected " + expected + " got " + actual + " (diff " + Math.abs(expected - actual) + ")");
    }

    /** Elementwise closeness of a tensor's logical contents to a reference array. */
    static void assertAllClose(double[] expected, Tensor actual, double rtol, double atol, String what) {
        assertEquals(expected.length, actual.numel(), what + ": element count");
        for (int i = 0; i < expected.length; i++) assertClose(expected[i], actual.getDouble(i), rtol, atol, what + " at " + i);
    }

    /** Row-major multi-index of flat index i. */
    static int[] unravel(long i, int[] shape) {
        int[] pos = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            pos[d] = (int) (i % shape[d]);
            i /= shape[d];
        }
        return pos;
    }

    static long ravel(int[] pos, int[] shape) {
        long i = 0;
        for (int d = 0; d < shape.length; d++) i = i * shape[d] + pos[d];
        return i;
    }

    static String s(int... shape) {
        return Arrays.toString(shape);
    }
}
