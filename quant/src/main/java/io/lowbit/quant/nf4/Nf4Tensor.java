package io.lowbit.quant.nf4;

import io.lowbit.quant.ComponentTensor;
import io.lowbit.quant.Components;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.Nf4Kernels;
import io.lowbit.quant.pack.BitPacking;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An NF4 weight [rows, cols]: ŵ[e] = level[q[e]]·absmax[e / blockSize] over the flattened (row-major)
 * index e = r·cols + c; the last block may be short.
 *
 * <p>Components ({@link MemoryCategory#QUANTIZED}): {@code qweight} U8 [ceil(n/2)] (code e in the low
 * nibble of byte e/2 when e is even, high nibble when odd), and either {@code absmax} F32 [nBlocks], or
 * with double quantization {@code absmax_q} I8 [nBlocks], {@code absmax_scale} F32 [ceil(nBlocks / dqBlock)]
 * and {@code absmax_mean} F32 [1], decoded as absmax = max(0, mean + absmax_q·absmax_scale[b / dqBlock]).
 */
public final class Nf4Tensor extends ComponentTensor {
    /** The {@code format} value in quantization_config. */
    public static final String FORMAT = "nf4";

    private final int rows, cols, blockSize, dqBlockSize, numBlocks;
    private final boolean doubleQuant;
    private final Tensor qweight, absmax, absmaxQ, absmaxScale, absmaxMean;

    private Nf4Tensor(int rows, int cols, int blockSize, boolean doubleQuant, int dqBlockSize) {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("NF4 weight needs rows, cols >= 1, got [" + rows + ", " + cols + "]");
        if (blockSize < 8 || blockSize % 8 != 0) throw new IllegalArgumentException("NF4 block size must be a positive multiple of 8, got " + blockSize);
        if (dqBlockSize < 1) throw new IllegalArgumentException("double-quantization block size must be >= 1, got " + dqBlockSize);
        long n = (long) rows * cols;
        this.rows = rows;
        this.cols = cols;
        this.blockSize = blockSize;
        this.doubleQuant = doubleQuant;
        this.dqBlockSize = dqBlockSize;
        this.numBlocks = Math.toIntExact((n + blockSize - 1) / blockSize);
        this.qweight = Tensor.zeros(DType.U8, MemoryCategory.QUANTIZED, Math.toIntExact(BitPacking.packedBytes(n, 4)));
        if (doubleQuant) {
            absmax = null;
            absmaxQ = Tensor.zeros(DType.I8, MemoryCategory.QUANTIZED, numBlocks);
            absmaxScale = Tensor.zeros(DType.F32, MemoryCategory.QUANTIZED, (numBlocks + dqBlockSize - 1) / dqBlockSize);
            absmaxMean = Tensor.zeros(DType.F32, MemoryCategory.QUANTIZED, 1);
        } else {
            absmax = Tensor.zeros(DType.F32, MemoryCategory.QUANTIZED, numBlocks);
            absmaxQ = absmaxScale = absmaxMean = null;
        }
    }

    /** A zero-filled tensor for a producer to fill (codes via {@link #setCode}, then the absmax values). */
    static Nf4Tensor allocate(int rows, int cols, int blockSize, boolean doubleQuant, int dqBlockSize) {
        return new Nf4Tensor(rows, cols, blockSize, doubleQuant, dqBlockSize);
    }

    void setCode(long e, int q) {
        BitPacking.put(qweight.segment(), 0, e, 4, q);
    }

    void setAbsmax(float[] a) {
        MemorySegment.copy(a, 0, absmax.segment(), ValueLayout.JAVA_FLOAT, 0, a.length);
    }

    /** Double quantization (spec): subtract the mean, then int8 per block of dqBlockSize with an F32 scale. */
    void setDoubleQuantizedAbsmax(float[] a) {
        double sum = 0;
        for (float v : a) sum += v;
        float mean = (float) (sum / a.length);
        absmaxMean.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 0, mean);
        for (int b0 = 0, k = 0; b0 < a.length; b0 += dqBlockSize, k++) {
            int b1 = Math.min(a.length, b0 + dqBlockSize);
            float m = 0f;
            for (int b = b0; b < b1; b++) m = Math.max(m, Math.abs(a[b] - mean));
            float scale = m / 127f;
            absmaxScale.segment().setAtIndex(ValueLayout.JAVA_FLOAT, k, scale);
            for (int b = b0; b < b1; b++) {
                int q = scale == 0f ? 0 : (int) Math.max(-127, Math.min(127, Math.rint((a[b] - mean) / (double) scale)));
                absmaxQ.segment().set(ValueLayout.JAVA_BYTE, b, (byte) q);
            }
        }
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    @Override public int bits() { return 4; }
    @Override public String format() { return FORMAT; }

    /** Weights per absmax block (64 by default). */
    public int blockSize() { return blockSize; }
    /** Number of absmax blocks, ceil(rows·cols / blockSize). */
    public int numBlocks() { return numBlocks; }
    /** True when the absmax values are themselves 8-bit quantized. */
    public boolean doubleQuant() { return doubleQuant; }
    /** The packed 4-bit codes. */
    public MemorySegment codeSegment() { return qweight.segment(); }

    private static final VectorSpecies<Float> DQ_FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final int DQ_LANES = DQ_FLOATS.length();
    private static final VectorSpecies<Byte> DQ_BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, DQ_LANES * 8)));

    /** The (decoded) absmax of block {@code b}. */
    public float absmax(int b) {
        if (!doubleQuant) return absmax.segment().getAtIndex(ValueLayout.JAVA_FLOAT, b);
        float mean = absmaxMean.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 0);
        float scale = absmaxScale.segment().getAtIndex(ValueLayout.JAVA_FLOAT, b / dqBlockSize);
        int q = absmaxQ.segment().get(ValueLayout.JAVA_BYTE, b);
        return Math.max(0f, mean + q * scale);
    }

    /** Decodes the absmax of blocks [b0, b0 + count) into {@code out[0, count)} (same values as {@link #absmax(int)}). */
    public void absmax(int b0, int count, float[] out) {
        if (b0 < 0 || count < 0 || b0 + count > numBlocks || out.length < count)
            throw new IndexOutOfBoundsException("absmax blocks [" + b0 + ", " + (b0 + count) + ") of " + numBlocks + " into " + out.length);
        if (!doubleQuant) {
            MemorySegment.copy(absmax.segment(), ValueLayout.JAVA_FLOAT, 4L * b0, out, 0, count);
            return;
        }
        MemorySegment q = absmaxQ.segment(), sc = absmaxScale.segment();
        float mean = absmaxMean.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 0);
        for (int i = 0; i < count; ) { // one second-level block at a time: its scale is read once
            int d = (b0 + i) / dqBlockSize, end = (int) Math.min(count, (long) (d + 1) * dqBlockSize - b0);
            float s = sc.getAtIndex(ValueLayout.JAVA_FLOAT, d);
            for (; i + DQ_LANES <= end; i += DQ_LANES) // the same arithmetic, DQ_LANES blocks at a time
                ((FloatVector) ByteVector.fromMemorySegment(DQ_BYTES, q, b0 + i, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, DQ_FLOATS, 0))
                        .mul(s).add(mean).max(0f).intoArray(out, i);
            for (; i < end; i++) out[i] = Math.max(0f, mean + q.get(ValueLayout.JAVA_BYTE, b0 + i) * s);
        }
    }

    /** The 4-bit code of flat element {@code e}. */
    public int code(long e) {
        return BitPacking.get(qweight.segment(), 0, e, 4);
    }

    @Override
    protected void decodeRow(int r, int c0, int c1, MemorySegment dst, long dstOff) {
        Nf4Kernels.decodeRow(this, r, c0, c1, dst, dstOff);
    }

    @Override
    protected void gemvKernel(float[] x, float[] y) {
        Nf4Kernels.gemv(this, x, y);
    }

    @Override
    public Map<String, Tensor> components() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("qweight", qweight);
        if (doubleQuant) {
            m.put("absmax_q", absmaxQ);
            m.put("absmax_scale", absmaxScale);
            m.put("absmax_mean", absmaxMean);
        } else {
            m.put("absmax", absmax);
        }
        return m;
    }

    @Override
    public Map<String, String> quantizationConfig() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("quant_method", "nf4");
        m.put("bits", "4");
        m.put("blocksize", String.valueOf(blockSize));
        m.put("double_quant", String.valueOf(doubleQuant));
        m.put("dq_blocksize", String.valueOf(dqBlockSize));
        m.put("rows", String.valueOf(rows));
        m.put("cols", String.valueOf(cols));
        return m;
    }

    /** See {@link QuantizedTensor#fromComponents}. */
    public static Nf4Tensor fromComponents(Map<String, Tensor> comps, Map<String, String> config) {
        Nf4Tensor t = new Nf4Tensor(Components.intField(config, "rows"), Components.intField(config, "cols"),
                Components.intField(config, "blocksize"), Components.boolField(config, "double_quant"),
                Components.intField(config, "dq_blocksize"));
        try {
            Components.copyInto(comps, "qweight", t.qweight);
            if (t.doubleQuant) {
                Components.copyInto(comps, "absmax_q", t.absmaxQ);
                Components.copyInto(comps, "absmax_scale", t.absmaxScale);
                Components.copyInto(comps, "absmax_mean", t.absmaxMean);
            } else {
                Components.copyInto(comps, "absmax", t.absmax);
            }
            for (int b = 0; b < t.numBlocks; b++) {
                float a = t.absmax(b);
                if (!Float.isFinite(a)) throw new IllegalArgumentException("absmax of NF4 block " + b + " is not finite: " + a);
            }
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return "Nf4Tensor[" + rows + ", " + cols + "] block " + blockSize + (doubleQuant ? " double-quant " + dqBlockSize : "");
    }
}
