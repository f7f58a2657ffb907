package io.lowbit.quant.nf4;

import io.lowbit.quant.Quantizer;
import io.lowbit.quant.kernels.Rows;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.ValueLayout;

/**
 * NF4 quantizer (QLoRA): per block of {@code blockSize} consecutive weights of the flattened tensor,
 * absmax = max|w|, code = nearest NF4 level to w / absmax (an all-zero block gets code 7 = level 0, so it
 * dequantizes to exact zeros). With double quantization the absmax values are stored as int8 codes:
 * mean m of all absmax values, then per block of {@code dqBlockSize} absmax values a linear symmetric
 * int8 grid on a − m with an F32 scale (max|a − m| / 127).
 */
public final class Nf4Quantizer implements Quantizer {
    private final int blockSize, dqBlockSize;
    private final boolean doubleQuant;

    /** NF4 with block 64 and double quantization in blocks of 256 (the QLoRA setting). */
    public Nf4Quantizer() {
        this(64, true, 256);
    }

    /** NF4 with explicit block sizes; {@code blockSize} must be a positive multiple of 8. */
    public Nf4Quantizer(int blockSize, boolean doubleQuant, int dqBlockSize) {
        if (blockSize < 8 || blockSize % 8 != 0) throw new IllegalArgumentException("NF4 block size must be a positive multiple of 8, got " + blockSize);
        if (dqBlockSize < 1) throw new IllegalArgumentException("double-quantization block size must be >= 1, got " + dqBlockSize);
        this.blockSize = blockSize;
        this.doubleQuant = doubleQuant;
        this.dqBlockSize = dqBlockSize;
    }

    @Override
    public String name() {
        return "nf4";
    }

    @Override
    public Nf4Tensor quantize(Tensor weight) {
        Rows.check2d(weight, "NF4 weight");
        int rows = weight.size(0), cols = weight.size(1);
        Tensor w = Rows.denseF32(weight);
        Nf4Tensor out = Nf4Tensor.allocate(rows, cols, blockSize, doubleQuant, dqBlockSize);
        try {
            long n = (long) rows * cols;
            int nBlocks = out.numBlocks();
            float[] absmax = new float[nBlocks];
            Parallel.range(nBlocks, 256, (lo, hi) -> {
                float[] v = new float[blockSize];
                for (int b = (int) lo; b < hi; b++) {
                    long e0 = (long) b * blockSize;
                    int len = (int) Math.min(blockSize, n - e0);
                    float a = 0f;
                    for (int i = 0; i < len; i++) {
                        v[i] = w.segment().getAtIndex(ValueLayout.JAVA_FLOAT, w.offset() + e0 + i);
                        if (!Float.isFinite(v[i])) throw new IllegalArgumentException("non-finite weight " + v[i] + " at flat index " + (e0 + i));
                        a = Math.max(a, Math.abs(v[i]));
                    }
                    absmax[b] = a;
                    for (int i = 0; i < len; i++) out.setCode(e0 + i, a == 0f ? 7 : Nf4.nearest(v[i] / (double) a));
                }
            });
            if (doubleQuant) out.setDoubleQuantizedAbsmax(absmax);
            else out.setAbsmax(absmax);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            if (w != weight) w.close();
        }
    }
}
