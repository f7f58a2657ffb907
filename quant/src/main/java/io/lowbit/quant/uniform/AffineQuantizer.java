package io.lowbit.quant.uniform;

import io.lowbit.quant.Quantizer;
import io.lowbit.quant.kernels.Rows;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Round-to-nearest uniform affine quantization ("RTN"): each scale group gets a grid from
 * {@link RangeSetting} (min-max or an L^p grid search over shrunk ranges) and every weight its nearest
 * code, clamped to the grid.
 */
public final class AffineQuantizer implements Quantizer {
    private final AffineSpec spec;
    private final RangeSetting range;

    /** RTN with the given grid shape and range setting. */
    public AffineQuantizer(AffineSpec spec, RangeSetting range) {
        if (spec == null || range == null) throw new IllegalArgumentException("spec and range setting are required");
        this.spec = spec;
        this.range = range;
    }

    /** RTN with min-max ranges. */
    public AffineQuantizer(AffineSpec spec) {
        this(spec, RangeSetting.minMax());
    }

    @Override
    public String name() {
        return "rtn";
    }

    /** The grid shape. */
    public AffineSpec spec() {
        return spec;
    }

    @Override
    public AffineQuantizedTensor quantize(Tensor weight) {
        Rows.check2d(weight, "RTN weight");
        int rows = weight.size(0), cols = weight.size(1);
        Tensor w = Rows.denseF32(weight);
        AffineQuantizedTensor out = AffineQuantizedTensor.allocate(rows, cols, spec, false, name());
        try {
            MemorySegment seg = w.segment();
            long off = w.offset();
            AffineGrid global = null;
            if (spec.granularity() == Granularity.PER_TENSOR) {
                float[] all = new float[Math.toIntExact((long) rows * cols)];
                MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, off * 4, all, 0, all.length);
                checkFinite(all, 0, cols);
                global = range.choose(all, 0, all.length, spec.bits(), spec.symmetric());
                out.setGrid(0, 0, global);
            }
            AffineGrid tensorGrid = global;
            int gc = spec.groupCols(cols), ng = spec.numGroups(cols);
            Parallel.range(rows, 16, (lo, hi) -> {
                float[] row = new float[cols];
                for (int r = (int) lo; r < hi; r++) {
                    MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, (off + (long) r * cols) * 4, row, 0, cols);
                    if (tensorGrid == null) checkFinite(row, r, cols);
                    for (int g = 0; g < ng; g++) {
                        int c0 = g * gc, c1 = Math.min(cols, c0 + gc);
                        AffineGrid grid = tensorGrid;
                        if (grid == null) {
                            grid = range.choose(row, c0, c1, spec.bits(), spec.symmetric());
                            out.setGrid(r, g, grid);
                        }
                        for (int c = c0; c < c1; c++) out.setCode(r, c, grid.quantize(row[c]));
                    }
                }
            });
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            if (w != weight) w.close();
        }
    }

    /** Throws naming the first non-finite value of {@code v}, which starts at row {@code row0} of a weight with {@code cols} columns. */
    private static void checkFinite(float[] v, int row0, int cols) {
        for (int i = 0; i < v.length; i++)
            if (!Float.isFinite(v[i]))
                throw new IllegalArgumentException("non-finite weight " + v[i] + " at row " + (row0 + i / cols) + ", column " + i % cols);
    }
}
