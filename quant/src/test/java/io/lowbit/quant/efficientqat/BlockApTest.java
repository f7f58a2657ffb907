package io.lowbit.quant.efficientqat;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Block-AP (spec "Phase 1") on tiny residual MLP blocks. */
@ExtendWith(NoLeaks.class)
class BlockApTest {
    private static final int D = 32, H = 64, TOKENS = 16, SAMPLES = 8, GROUP = 16;

    private static List<Tensor> calibration(long seed) {
        Rng rng = new Rng(seed);
        List<Tensor> xs = new ArrayList<>();
        for (int i = 0; i < SAMPLES; i++) xs.add(Tensor.normal(DType.F32, rng, 0, 1, TOKENS, D));
        return xs;
    }

    private static BlockApConfig config() {
        return BlockApConfig.paper(2, GROUP).scaled(4, 2e-3, 2e-3);
    }

    /** Training one block lowers its output MSE well below the round-to-nearest start; freezing keeps it. */
    @Test
    void trainingReducesBlockOutputMseBelowRtn() {
        List<Tensor> xs = calibration(61);
        try (TinyBlock block = new TinyBlock(D, H, new Rng(62))) {
            List<Tensor> targets = BlockAp.outputs(block, xs);
            double[] normBefore = ((RMSNorm) block.get("norm")).weight().data().toDoubleArray();
            assertEquals(List.of("up", "down"), BlockAp.quantize(block, 2, GROUP));
            BlockAp.Report r = BlockAp.train(block, xs, targets, config());
            System.out.printf("Block-AP W2 g%d tiny block: RTN MSE %.4e -> trained %.4e (%d steps)%n", GROUP, r.initialMse(), r.finalMse(), r.stepLosses().length);
            assertTrue(r.finalMse() < 0.6 * r.initialMse(), "Block-AP MSE " + r.initialMse() + " -> " + r.finalMse());
            assertEquals(4 * SAMPLES, r.stepLosses().length);
            assertFalse(java.util.Arrays.equals(normBefore, ((RMSNorm) block.get("norm")).weight().data().toDoubleArray()), "norm weights train");
            BlockAp.freeze(block);
            assertInstanceOf(ScaleOnlyQuantLinear.class, block.get("up"));
            assertInstanceOf(ScaleOnlyQuantLinear.class, block.get("down"));
            double frozen = BlockAp.mse(block, xs, targets);
            assertEquals(r.finalMse(), frozen, 1e-5 * r.finalMse(), "integers reproduce the fake-quantized block");
            targets.forEach(Tensor::close);
        } finally {
            xs.forEach(Tensor::close);
        }
    }

    private static List<Tensor> chain(List<TinyBlock> blocks, List<Tensor> xs) {
        List<Tensor> cur = xs;
        for (TinyBlock b : blocks) {
            List<Tensor> next = BlockAp.outputs(b, cur);
            if (cur != xs) cur.forEach(Tensor::close);
            cur = next;
        }
        return cur;
    }

    private static double mse(List<Tensor> a, List<Tensor> b) {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < a.size(); i++)
            for (long k = 0; k < a.get(i).numel(); k++) {
                double d = a.get(i).getDouble(k) - b.get(i).getDouble(k);
                sum += d * d;
                n++;
            }
        return sum / n;
    }

    /**
     * The spec's claim in miniature: a 3-block model quantized block by block with Block-AP (each block fed by
     * the already quantized ones) is closer end to end to the full-precision model than round-to-nearest,
     * on held-out inputs.
     */
    @Test
    void sequentialBlockApBeatsRtnEndToEndOnHeldOutInputs() {
        List<Tensor> calib = calibration(65), held = calibration(66);
        List<TinyBlock> fp = new ArrayList<>(), rtn = new ArrayList<>(), ap = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fp.add(new TinyBlock(D, H, new Rng(70 + i)));
            rtn.add(new TinyBlock(D, H, new Rng(70 + i)));
            ap.add(new TinyBlock(D, H, new Rng(70 + i)));
        }
        List<Tensor> want = chain(fp, held);
        try {
            for (TinyBlock b : rtn) {
                BlockAp.quantize(b, 2, GROUP);                     // min-max init = RTN
                BlockAp.freeze(b);
            }
            BlockAp.run(ap, calib, config(), null);
            List<Tensor> yr = chain(rtn, held), ya = chain(ap, held);
            double eRtn = mse(want, yr), eAp = mse(want, ya);
            System.out.printf("3 tiny blocks W2 g%d, held-out end-to-end MSE: RTN %.4e, Block-AP %.4e%n", GROUP, eRtn, eAp);
            assertTrue(eAp < 0.7 * eRtn, "Block-AP " + eAp + " vs RTN " + eRtn);
            yr.forEach(Tensor::close);
            ya.forEach(Tensor::close);
        } finally {
            want.forEach(Tensor::close);
            for (List<TinyBlock> l : List.of(fp, rtn, ap)) l.forEach(TinyBlock::close);
            calib.forEach(Tensor::close);
            held.forEach(Tensor::close);
        }
    }

    private record Peaks(long gradients, long optimizer, long activations) {}

    private static Peaks runBlocks(int n) {
        List<Tensor> xs = calibration(63);
        List<TinyBlock> blocks = new ArrayList<>();
        for (int i = 0; i < n; i++) blocks.add(new TinyBlock(D, H, new Rng(64 + i)));
        try {
            long g0 = Allocator.liveBytes(MemoryCategory.GRADIENTS), o0 = Allocator.liveBytes(MemoryCategory.OPTIMIZER);
            long a0 = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
            Allocator.resetPeak();
            List<BlockAp.Report> reports = BlockAp.run(blocks, xs, config(), null);
            Peaks p = new Peaks(Allocator.peakBytes(MemoryCategory.GRADIENTS) - g0, Allocator.peakBytes(MemoryCategory.OPTIMIZER) - o0,
                    Allocator.peakBytes(MemoryCategory.ACTIVATIONS) - a0);
            assertEquals(n, reports.size());
            for (BlockAp.Report r : reports) assertTrue(r.finalMse() < r.initialMse(), "every block improves: " + r);
            assertEquals(g0, Allocator.liveBytes(MemoryCategory.GRADIENTS), "no gradients left");
            assertEquals(o0, Allocator.liveBytes(MemoryCategory.OPTIMIZER), "no optimizer state left");
            assertEquals(a0, Allocator.liveBytes(MemoryCategory.ACTIVATIONS), "calibration caches freed");
            for (TinyBlock b : blocks)
                for (Module m : b.namedModules().values()) assertFalse(m instanceof io.lowbit.autograd.nn.Linear, "every linear frozen");
            return p;
        } finally {
            blocks.forEach(TinyBlock::close);
            xs.forEach(Tensor::close);
        }
    }

    private static long rounded(long bytes) {
        return Math.max(64, (bytes + 63) & ~63L);
    }

    /**
     * The driver's training memory is one block's: gradient and AdamW peaks of a 3-block run equal those
     * of a 1-block run and equal one block's trainable parameters (×1 and ×2), and activations (the
     * calibration caches plus one block's step) do not grow with depth.
     */
    @Test
    void driverPeakMemoryIsOneBlock() {
        Peaks one = runBlocks(1), three = runBlocks(3);
        int ngUp = D / GROUP, ngDown = H / GROUP;
        long params = 2 * rounded(4L * H * D) + 2 * rounded(4L * H * ngUp) + 2 * rounded(4L * D * ngDown) + rounded(4L * D);
        System.out.printf("Block-AP peaks (bytes): 1 block grads %d optim %d act %d; 3 blocks grads %d optim %d act %d; one block's params %d%n",
                one.gradients(), one.optimizer(), one.activations(), three.gradients(), three.optimizer(), three.activations(), params);
        assertEquals(params, one.gradients());
        assertEquals(2 * params, one.optimizer());
        assertEquals(one.gradients(), three.gradients());
        assertEquals(one.optimizer(), three.optimizer());
        long cache = SAMPLES * rounded(4L * TOKENS * D);
        assertTrue(three.activations() <= one.activations() + cache,
                "activation peak " + three.activations() + " for 3 blocks vs " + one.activations() + " for 1 (cache set " + cache + ")");
    }
}
