package io.lowbit.autograd.optim;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Parallel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * AdamW with 8-bit block-wise quantized moments (Dettmers et al. 2022, "8-bit Optimizers via
 * Block-wise Quantization"). Each moment tensor is split into blocks of {@link #blockSize()} values; a
 * block stores one F32 absmax and one byte per value, the index of the nearest {@link DynamicQuantMap}
 * code of value/absmax (signed code for m, unsigned for v). An update dequantizes a block, applies the
 * exact {@link AdamW} math in fp32, and requantizes with the block's new absmax.
 *
 * <p>State per parameter: "exp_avg_code", "exp_avg_sq_code" (U8, one per value), "exp_avg_absmax",
 * "exp_avg_sq_absmax" (F32, one per block). Parameters with fewer than {@code minQuantizedSize} values keep
 * fp32 moments like {@link AdamW} (bitsandbytes' default threshold is 4096).
 */
public class AdamW8bit extends AdamW {
    private static final DynamicQuantMap SIGNED = DynamicQuantMap.signed(), UNSIGNED = DynamicQuantMap.unsigned();
    private final int blockSize;
    private final long minQuantizedSize;

    /** PyTorch's AdamW defaults, blocks of 2048, fp32 moments below 4096 values. */
    public AdamW8bit(List<? extends Var> params) {
        this(List.of(new ParamGroup(params, 1e-3, 1e-2)), 0.9, 0.999, 1e-8, 2048, 4096);
    }

    /**
     * @param blockSize        values per absmax block (2048 in bitsandbytes; 256 is finer)
     * @param minQuantizedSize parameters with fewer values keep fp32 moments (0 quantizes everything)
     */
    public AdamW8bit(List<ParamGroup> groups, double beta1, double beta2, double eps, int blockSize, long minQuantizedSize) {
        super(groups, beta1, beta2, eps);
        if (blockSize <= 0) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        this.blockSize = blockSize;
        this.minQuantizedSize = minQuantizedSize;
    }

    /** Values per absmax block. */
    public int blockSize() {
        return blockSize;
    }

    private boolean quantized(Var p) {
        return p.numel() >= minQuantizedSize && p.dtype() == DType.F32;
    }

    @Override
    protected void initState(Var p, State s) {
        if (!quantized(p)) {
            super.initState(p, s);
            return;
        }
        if (s.tensors.containsKey("exp_avg_code")) return;
        int n = Math.toIntExact(p.numel()), blocks = (n + blockSize - 1) / blockSize;
        Tensor mCode = s.zeros("exp_avg_code", DType.U8, n);
        s.zeros("exp_avg_sq_code", DType.U8, n); // index 0 of the unsigned code is 0.0
        s.zeros("exp_avg_absmax", DType.F32, blocks);
        s.zeros("exp_avg_sq_absmax", DType.F32, blocks);
        mCode.segment().fill((byte) SIGNED.encode(0f)); // the signed code's zero is in the middle
    }

    @Override
    protected void update(Var p, Tensor grad, ParamGroup group, State s) {
        if (!quantized(p)) {
            super.update(p, grad, group, s);
            return;
        }
        initState(p, s);
        MemorySegment mc = s.tensors.get("exp_avg_code").segment(), vc = s.tensors.get("exp_avg_sq_code").segment();
        MemorySegment ma = s.tensors.get("exp_avg_absmax").segment(), va = s.tensors.get("exp_avg_sq_absmax").segment();
        Tensor w = p.data();
        MemorySegment sw = w.segment(), sg = grad.segment();
        long wo = w.offset(), go = grad.offset();
        int n = Math.toIntExact(p.numel()), blocks = (n + blockSize - 1) / blockSize;
        double lr = group.lr(), bc1 = 1 - Math.pow(beta1, s.step), bc2 = 1 - Math.pow(beta2, s.step);
        double decay = 1 - lr * group.weightDecay(), stepSize = lr / bc1, sqrtBc2 = Math.sqrt(bc2);
        float b1 = (float) beta1, b2 = (float) beta2, omb1 = (float) (1 - beta1), omb2 = (float) (1 - beta2);
        var F = ValueLayout.JAVA_FLOAT;
        Parallel.range(blocks, 4, (lo, hi) -> {
            float[] m = new float[blockSize], v = new float[blockSize];
            for (long blk = lo; blk < hi; blk++) {
                int start = (int) blk * blockSize, len = Math.min(blockSize, n - start);
                float mScale = ma.getAtIndex(F, blk), vScale = va.getAtIndex(F, blk);
                float mMax = 0, vMax = 0;
                for (int j = 0; j < len; j++) {
                    int i = start + j;
                    float g = sg.getAtIndex(F, go + i);
                    // dequantize, then the AdamW moment updates in fp32
                    m[j] = b1 * SIGNED.decode(mc.get(ValueLayout.JAVA_BYTE, i) & 0xff) * mScale + omb1 * g;
                    v[j] = b2 * UNSIGNED.decode(vc.get(ValueLayout.JAVA_BYTE, i) & 0xff) * vScale + omb2 * g * g;
                    mMax = Math.max(mMax, Math.abs(m[j]));
                    vMax = Math.max(vMax, v[j]);
                    float th = (float) (sw.getAtIndex(F, wo + i) * decay);
                    sw.setAtIndex(F, wo + i, (float) (th - stepSize * m[j] / (Math.sqrt(v[j]) / sqrtBc2 + eps)));
                }
                // requantize with the block's new absmax
                ma.setAtIndex(F, blk, mMax);
                va.setAtIndex(F, blk, vMax);
                for (int j = 0; j < len; j++) {
                    int i = start + j;
                    mc.set(ValueLayout.JAVA_BYTE, i, (byte) SIGNED.encode(mMax == 0 ? 0f : m[j] / mMax));
                    vc.set(ValueLayout.JAVA_BYTE, i, (byte) UNSIGNED.encode(vMax == 0 ? 0f : v[j] / vMax));
                }
            }
        });
    }
}
