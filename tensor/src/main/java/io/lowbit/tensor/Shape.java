package io.lowbit.tensor;

import java.util.Arrays;

/** Shape arithmetic: element counts, strides, reshape rules and NumPy broadcasting. */
public final class Shape {
    private Shape() {}

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Row-major strides (in elements) for {@code shape}. */
    public static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return st;
    }

    /** Normalizes a possibly negative axis; throws naming the rank if out of range. */
    public static int axis(int d, int rank) {
        int a = d < 0 ? d + rank : d;
        if (a < 0 || a >= rank) throw new IllegalArgumentException("dimension " + d + " out of range for rank " + rank);
        return a;
    }

    /** Resolves a single -1 in {@code target} against the element count of {@code shape}. */
    public static int[] inferReshape(int[] shape, int[] target) {
        long n = numel(shape);
        int[] out = target.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one -1 allowed in reshape " + Arrays.toString(target));
                infer = i;
            } else known *= out[i];
        }
        if (infer >= 0) {
            if (known == 0 || n % known != 0)
                throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(target));
            out[infer] = (int) (n / known);
        }
        if (numel(out) != n) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(target));
        return out;
    }

    /**
     * Strides that let a tensor of (shape, strides) be seen as {@code target} without a copy, or null when
     * no such view exists (groups of dimensions are merged/split only where they are contiguous).
     */
    public static long[] reshapeStrides(int[] shape, long[] strides, int[] target) {
        if (numel(shape) == 0 || numel(shape) == 1) return contiguousStrides(target);
        // drop size-1 dims from the source, then walk groups
        int[] s = Arrays.stream(shape).filter(x -> x != 1).toArray();
        long[] st = new long[s.length];
        for (int i = 0, j = 0; i < shape.length; i++) if (shape[i] != 1) st[j++] = strides[i];
        long[] out = new long[target.length];
        int i = 0, j = 0;
        while (j < target.length || i < s.length) {
            if (j < target.length && target[j] == 1) {
                out[j] = (i < s.length ? st[i] * s[i] : 1);
                j++;
                continue;
            }
            if (i >= s.length || j >= target.length) return null;
            // take source dims i..i2 and target dims j..j2 with equal products
            long ps = s[i], pt = target[j];
            int i2 = i, j2 = j;
            while (ps != pt) {
                if (ps < pt) { i2++; if (i2 >= s.length) return null; ps *= s[i2]; }
                else { j2++; if (j2 >= target.length) return null; pt *= target[j2]; }
            }
            for (int k = i; k < i2; k++) if (st[k] != st[k + 1] * s[k + 1]) return null;
            long stride = st[i2];
            for (int k = j2; k >= j; k--) {
                out[k] = stride;
                stride *= target[k];
            }
            i = i2 + 1;
            j = j2 + 1;
        }
        return out;
    }

    /** NumPy broadcast of two shapes; throws naming both shapes when they do not broadcast. */
    public static int[] broadcast(int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int da = i < n - a.length ? 1 : a[i - (n - a.length)];
            int db = i < n - b.length ? 1 : b[i - (n - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** A broadcast view of {@code t} with shape {@code shape} (t itself if already that shape). */
    public static Tensor broadcastTo(Tensor t, int[] shape) {
        int[] ts = t.shape();
        if (Arrays.equals(ts, shape)) return t;
        int[] b = broadcast(ts, shape);
        if (!Arrays.equals(b, shape))
            throw new IllegalArgumentException("shape " + Arrays.toString(ts) + " does not broadcast to " + Arrays.toString(shape));
        return t.expand(shape);
    }
}
