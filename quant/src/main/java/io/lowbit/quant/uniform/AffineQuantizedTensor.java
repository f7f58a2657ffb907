package io.lowbit.quant.uniform;

import io.lowbit.quant.ComponentTensor;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.kernels.AffineKernels;
import io.lowbit.quant.Components;
import io.lowbit.quant.pack.BitPacking;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An affine-quantized weight [rows, cols]: ŵ[r, c] = s[r, g]·(q[r, c] − z[r, g]) with g = c / groupCols,
 * or g = g_idx[c] when the columns were quantized in act-order (GPTQ desc_act).
 *
 * <p>Components (all {@link MemoryCategory#QUANTIZED}):
 * <ul>
 *   <li>{@code qweight} U8 [rows, rowBytes]: each row's codes as a little-endian bit stream
 *       ({@link BitPacking}) starting on a byte boundary, rowBytes = ceil(cols·bits / 8);</li>
 *   <li>{@code scales} F32 [scaleRows, numGroups] (scaleRows = 1 per tensor, else rows);</li>
 *   <li>{@code zeros} U8 [scaleRows, numGroups], asymmetric only (symmetric grids use z = 2^(bits−1));</li>
 *   <li>{@code g_idx} I32 [cols], act-order only.</li>
 * </ul>
 */
public final class AffineQuantizedTensor extends ComponentTensor {
    /** The {@code format} value in quantization_config. */
    public static final String FORMAT = "affine";

    private final int rows, cols;
    private final AffineSpec spec;
    private final String method;
    private final int groupCols, numGroups, scaleRows, rowBytes;
    private final Tensor qweight, scales, zeros, gIdx;
    private final int[] groupOf; // heap copy of g_idx for the kernels, null without act-order

    private AffineQuantizedTensor(int rows, int cols, AffineSpec spec, String method, Tensor qweight, Tensor scales,
                                  Tensor zeros, Tensor gIdx) {
        this.rows = rows;
        this.cols = cols;
        this.spec = spec;
        this.method = method;
        this.groupCols = spec.groupCols(cols);
        this.numGroups = spec.numGroups(cols);
        this.scaleRows = spec.scaleRows(rows);
        this.rowBytes = (int) BitPacking.packedBytes(cols, spec.bits());
        this.qweight = qweight;
        this.scales = scales;
        this.zeros = zeros;
        this.gIdx = gIdx;
        this.groupOf = gIdx == null ? null : gIdx.toIntArray();
    }

    /**
     * A zero-filled tensor for a producer (a quantizer) to fill with {@link #setCode}, {@link #setScale},
     * {@link #setZero} and {@link #setGroupIndex}. With {@code withGroupIndex}, g_idx starts as c / groupCols.
     */
    public static AffineQuantizedTensor allocate(int rows, int cols, AffineSpec spec, boolean withGroupIndex, String method) {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("quantized weight needs rows, cols >= 1, got [" + rows + ", " + cols + "]");
        int rb = (int) BitPacking.packedBytes(cols, spec.bits());
        int sr = spec.scaleRows(rows), ng = spec.numGroups(cols);
        Tensor q = Tensor.zeros(DType.U8, MemoryCategory.QUANTIZED, rows, rb);
        Tensor s = Tensor.zeros(DType.F32, MemoryCategory.QUANTIZED, sr, ng);
        Tensor z = spec.symmetric() ? null : Tensor.zeros(DType.U8, MemoryCategory.QUANTIZED, sr, ng);
        Tensor g = null;
        if (withGroupIndex) {
            g = Tensor.zeros(DType.I32, MemoryCategory.QUANTIZED, cols);
            int gc = spec.groupCols(cols);
            for (int c = 0; c < cols; c++) g.segment().setAtIndex(ValueLayout.JAVA_INT, c, c / gc);
        }
        return new AffineQuantizedTensor(rows, cols, spec, method, q, s, z, g);
    }

    // ---------------------------------------------------------------- producer API

    /** Stores code {@code q} for weight (r, c). */
    public void setCode(int r, int c, int q) {
        BitPacking.put(qweight.segment(), (long) r * rowBytes, c, spec.bits(), q);
    }

    /** Stores the grid of scale row {@code sr} (a row, or 0 per tensor) and group {@code g}. */
    public void setGrid(int sr, int g, AffineGrid grid) {
        if (grid.maxq() != spec.maxq() || grid.zero() < 0 || grid.zero() > spec.maxq() || !(grid.scale() > 0) || !Float.isFinite(grid.scale()))
            throw new IllegalArgumentException("grid " + grid + " does not fit " + spec.bits() + "-bit codes (maxq " + spec.maxq() + ", positive finite scale)");
        if (spec.symmetric() && grid.zero() != 1 << (spec.bits() - 1))
            throw new IllegalArgumentException("symmetric grid must have zero " + (1 << (spec.bits() - 1)) + ", got " + grid.zero());
        scales.segment().setAtIndex(ValueLayout.JAVA_FLOAT, (long) sr * numGroups + g, grid.scale());
        if (zeros != null) zeros.segment().set(ValueLayout.JAVA_BYTE, (long) sr * numGroups + g, (byte) grid.zero());
    }

    /** Sets the group of column {@code c} (act-order tensors only). */
    public void setGroupIndex(int c, int g) {
        if (gIdx == null) throw new IllegalStateException("this tensor was allocated without g_idx");
        if (g < 0 || g >= numGroups) throw new IllegalArgumentException("group " + g + " out of [0, " + numGroups + ")");
        gIdx.segment().setAtIndex(ValueLayout.JAVA_INT, c, g);
        groupOf[c] = g;
    }

    // ---------------------------------------------------------------- reading

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    @Override public int bits() { return spec.bits(); }
    @Override public String format() { return FORMAT; }

    /** The grid shape. */
    public AffineSpec spec() { return spec; }
    /** The producing method ("rtn", "gptq", ...). */
    public String method() { return method; }
    /** Columns per group (cols for per-channel and per-tensor). */
    public int groupCols() { return groupCols; }
    /** Groups per row. */
    public int numGroups() { return numGroups; }
    /** Bytes per packed row of codes. */
    public int rowBytes() { return rowBytes; }
    /** True when g_idx maps columns to groups (act-order). */
    public boolean hasGroupIndex() { return gIdx != null; }
    /** The packed codes' bytes. */
    public MemorySegment codeSegment() { return qweight.segment(); }

    /** The scales' storage, F32 [scaleRows, numGroups] (row {@link #scaleRow}(r) serves weight row r). */
    public MemorySegment scaleSegment() { return scales.segment(); }
    /** The zero points' storage, U8 [scaleRows, numGroups]; null for symmetric grids (z = 2^(bits−1)). */
    public MemorySegment zeroSegment() { return zeros == null ? null : zeros.segment(); }

    /** Scale row used by weight row {@code r}. */
    public int scaleRow(int r) { return scaleRows == 1 ? 0 : r; }

    /** Group of column {@code c}. */
    public int groupOf(int c) { return groupOf != null ? groupOf[c] : c / groupCols; }

    /** The group of every column, c → g (a fresh array: g_idx, or c / groupCols). */
    public int[] groupIndex() {
        if (groupOf != null) return groupOf.clone();
        int[] g = new int[cols];
        for (int c = 0; c < cols; c++) g[c] = c / groupCols;
        return g;
    }

    /** Scale of row {@code r}, group {@code g}. */
    public float scale(int r, int g) {
        return scales.segment().getAtIndex(ValueLayout.JAVA_FLOAT, (long) scaleRow(r) * numGroups + g);
    }

    /** Zero point of row {@code r}, group {@code g}. */
    public int zero(int r, int g) {
        if (zeros == null) return 1 << (spec.bits() - 1);
        return zeros.segment().get(ValueLayout.JAVA_BYTE, (long) scaleRow(r) * numGroups + g) & 0xff;
    }

    /** The integer code of weight (r, c). */
    public int code(int r, int c) {
        return BitPacking.get(qweight.segment(), (long) r * rowBytes, c, spec.bits());
    }

    @Override
    protected void decodeRow(int r, int c0, int c1, MemorySegment dst, long dstOff) {
        AffineKernels.decodeRow(this, r, c0, c1, dst, dstOff);
    }

    @Override
    protected void gemvKernel(float[] x, float[] y) {
        AffineKernels.gemv(this, x, y);
    }

    @Override
    public Map<String, Tensor> components() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("qweight", qweight);
        m.put("scales", scales);
        if (zeros != null) m.put("zeros", zeros);
        if (gIdx != null) m.put("g_idx", gIdx);
        return m;
    }

    @Override
    public Map<String, String> quantizationConfig() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("quant_method", method);
        m.put("bits", String.valueOf(spec.bits()));
        m.put("sym", String.valueOf(spec.symmetric()));
        m.put("granularity", spec.granularity().configName());
        m.put("group_size", String.valueOf(spec.groupSize()));
        m.put("desc_act", String.valueOf(gIdx != null));
        m.put("rows", String.valueOf(rows));
        m.put("cols", String.valueOf(cols));
        return m;
    }

    /** See {@link QuantizedTensor#fromComponents}. */
    public static AffineQuantizedTensor fromComponents(Map<String, Tensor> comps, Map<String, String> config) {
        int rows = Components.intField(config, "rows"), cols = Components.intField(config, "cols");
        AffineSpec spec = new AffineSpec(Components.intField(config, "bits"), Components.boolField(config, "sym"),
                Granularity.fromConfigName(Components.field(config, "granularity")), Components.intField(config, "group_size"));
        boolean descAct = Components.boolField(config, "desc_act");
        String method = config.getOrDefault("quant_method", "rtn");
        AffineQuantizedTensor t = allocate(rows, cols, spec, descAct, method);
        try {
            Components.copyInto(comps, "qweight", t.qweight);
            Components.copyInto(comps, "scales", t.scales);
            if (t.zeros != null) Components.copyInto(comps, "zeros", t.zeros);
            else if (comps.containsKey("zeros")) throw new IllegalArgumentException("symmetric affine tensor has an unexpected 'zeros' component");
            if (t.gIdx != null) {
                Components.copyInto(comps, "g_idx", t.gIdx);
                for (int c = 0; c < cols; c++) {
                    int g = t.gIdx.segment().getAtIndex(ValueLayout.JAVA_INT, c);
                    if (g < 0 || g >= t.numGroups) throw new IllegalArgumentException("g_idx[" + c + "] = " + g + " out of [0, " + t.numGroups + ")");
                    t.groupOf[c] = g;
                }
            }
            for (int i = 0; i < t.scales.numel(); i++) {
                float s = t.scales.segment().getAtIndex(ValueLayout.JAVA_FLOAT, i);
                if (!Float.isFinite(s)) throw new IllegalArgumentException("scales[" + i + "] is not finite: " + s);
            }
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    @Override
    public String toString() {
        return "AffineQuantizedTensor[" + rows + ", " + cols + "] " + method + " " + spec.bits() + "-bit "
                + (spec.symmetric() ? "sym" : "asym") + " " + spec.granularity().configName()
                + (spec.groupSize() > 0 ? " g" + spec.groupSize() : "") + (gIdx != null ? " act-order" : "");
    }
}
