package io.lowbit.quant.lrqat;

import io.lowbit.quant.pack.BitPacking;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Half;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The frozen Φ0 = φ(W0 / s0) of LR-QAT (spec "Forward" and "Downcasting operator φ"), stored once in low
 * precision and upcast element by element when the fake-quantized weight is (re)computed.
 *
 * <p>Storage per {@link Downcast}: FIXED_POINT_INT8 an I8 [out, in] of round(clamp(W0/s0)·2^(8−b));
 * INT_PACKED a U8 [out, rowBytes] of the codes round-and-clip(W0/s0) − q_min, 4 bits each (two per byte)
 * for b ≤ 4, 8 bits for b = 8; BF16 / F16 / F32 a plain cast [out, in]. Integer layouts are
 * {@link MemoryCategory#QUANTIZED}, float casts {@link MemoryCategory#WEIGHTS}.
 */
public final class Phi0 implements AutoCloseable {
    private final Downcast kind;
    private final int rows, cols, bits, qmin, qmax, codeBits, rowBytes;
    private final Tensor data;

    private Phi0(Downcast kind, int rows, int cols, int bits, Tensor data) {
        this.kind = kind;
        this.rows = rows;
        this.cols = cols;
        this.bits = bits;
        this.qmin = -(1 << (bits - 1));
        this.qmax = (1 << (bits - 1)) - 1;
        this.codeBits = bits <= 4 ? 4 : 8;
        this.rowBytes = (int) BitPacking.packedBytes(cols, codeBits);
        this.data = data;
    }

    /**
     * Stores φ(W0 / s0) for {@code w0} [out, in] with scales {@code s0} [out·numGroups] (row-major,
     * column c in group c / groupCols) on the signed b-bit grid.
     */
    public static Phi0 of(Tensor w0, float[] s0, int groupCols, int bits, Downcast kind) {
        if (w0.dim() != 2) throw new IllegalArgumentException("Φ0 needs a 2-D weight [out, in], got " + Arrays.toString(w0.shape()));
        BitPacking.checkBits(bits);
        int rows = w0.size(0), cols = w0.size(1), ng = (cols + groupCols - 1) / groupCols;
        if (s0.length != rows * ng)
            throw new IllegalArgumentException("s0 has " + s0.length + " scales, weight [" + rows + ", " + cols + "] with group "
                    + groupCols + " needs " + rows * ng);
        Tensor t = switch (kind) {
            case FIXED_POINT_INT8 -> Tensor.zeros(DType.I8, MemoryCategory.QUANTIZED, rows, cols);
            case INT_PACKED -> Tensor.zeros(DType.U8, MemoryCategory.QUANTIZED, rows, (int) BitPacking.packedBytes(cols, bits <= 4 ? 4 : 8));
            case BF16 -> Tensor.zeros(DType.BF16, MemoryCategory.WEIGHTS, rows, cols);
            case F16 -> Tensor.zeros(DType.F16, MemoryCategory.WEIGHTS, rows, cols);
            case F32 -> Tensor.zeros(DType.F32, MemoryCategory.WEIGHTS, rows, cols);
        };
        Phi0 p = new Phi0(kind, rows, cols, bits, t);
        double frac = 1 << (8 - bits);
        MemorySegment seg = t.segment();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double s = s0[r * ng + c / groupCols];
                if (!(s > 0) || !Float.isFinite((float) s))
                    throw new IllegalArgumentException("s0[" + r + ", " + c / groupCols + "] = " + s + " is not a positive finite scale");
                double v = w0.get(r, c) / s;                                   // W0 / s0
                if (!Double.isFinite(v)) throw new IllegalArgumentException("non-finite weight at [" + r + ", " + c + "]");
                long e = (long) r * cols + c;
                switch (kind) {
                    case FIXED_POINT_INT8 -> seg.set(ValueLayout.JAVA_BYTE, e, (byte) Math.rint(clamp(v, p.qmin, p.qmax) * frac));
                    case INT_PACKED -> BitPacking.put(seg, (long) r * p.rowBytes, c, p.codeBits, (int) (Math.rint(clamp(v, p.qmin, p.qmax)) - p.qmin));
                    case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT, e, Half.toBF16((float) v));
                    case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT, e, Half.toF16((float) v));
                    case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT, e, (float) v);
                }
            }
        return p;
    }

    private static double clamp(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** The upcast value Φ0[r, c] (in integer-grid units). */
    public double get(int r, int c) {
        MemorySegment seg = data.segment();
        long e = (long) r * cols + c;
        return switch (kind) {
            case FIXED_POINT_INT8 -> seg.get(ValueLayout.JAVA_BYTE, e) / (double) (1 << (8 - bits));
            case INT_PACKED -> BitPacking.get(seg, (long) r * rowBytes, c, codeBits) + qmin;
            case BF16 -> Half.fromBF16(seg.getAtIndex(ValueLayout.JAVA_SHORT, e));
            case F16 -> Half.fromF16(seg.getAtIndex(ValueLayout.JAVA_SHORT, e));
            case F32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT, e);
        };
    }

    /** The downcast kind. */
    public Downcast kind() { return kind; }
    /** Output channels. */
    public int rows() { return rows; }
    /** Input features. */
    public int cols() { return cols; }
    /** Grid bits b. */
    public int bits() { return bits; }
    /** The stored tensor (owned by this object). */
    public Tensor data() { return data; }
    /** Bytes of the stored tensor. */
    public long bytes() { return data.numel() * data.dtype().bytes; }

    @Override
    public void close() {
        data.close();
    }
}
