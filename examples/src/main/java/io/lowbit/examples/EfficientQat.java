package io.lowbit.examples;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.qat.EfficientQatTraining;
import io.lowbit.models.qat.QatExport;
import io.lowbit.models.quant.ModelQuantizer;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.quant.efficientqat.BlockApConfig;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * EfficientQAT (Chen et al. 2024; specs/efficientqat.md) on stories260K at 2 bits, groups of 32:
 * <ol>
 *   <li>Block-AP: block by block, every linear becomes an asymmetric fake-quant layer
 *       Ŵ = s·(clamp(round(W/s) + round(z), 0, 3) − round(z)); its weights, the block's RMSNorm weights and
 *       s, z train on MSE(FP_block(x_fp), Q_block(x_q)), where x_q comes out of the already quantized blocks;
 *       then the block is frozen as integers (q, s, z). Only one block's gradients and optimizer state exist
 *       at any time — the printed gradient peak is one block's worth;</li>
 *   <li>E2E-QP: q and z stay frozen, only the step sizes s train, end to end on the language-model loss.</li>
 * </ol>
 * Perplexity after each phase against round-to-nearest with the same grid.
 */
public final class EfficientQat {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "EfficientQAT on stories260K at 2 bits: Block-AP block by block, then E2E-QP on step sizes only";

    private EfficientQat() {}

    public static void main(String[] args) throws Exception {
        long live0 = Allocator.liveBytes();
        ExampleArgs opts = ExampleArgs.parse(args);
        int bits = opts.getInt("bits", 2), group = opts.getInt("group", 32), samples = opts.getInt("samples", 64), steps = opts.getInt("steps", 100);
        opts.done();
        Path checkpoint = SharedAssets.stories260K();
        int[] tokens = LrQat.selfSampled(checkpoint, 48, 128, 1);            // text sampled from the float model
        TokenDataset data = new TokenDataset(tokens, 0.25, 64, 42);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());

        try (LlamaWeights w = Checkpoints.load(checkpoint);
             QuantizedLlama rtn = ModelQuantizer.quantize(w, QuantMethods.of("rtn", bits, group, false, false), null, null);
             LlamaForCausalLM rtnModel = QatExport.dequantized(rtn); LlamaForCausalLM fp = LlamaForCausalLM.load(checkpoint)) {
            System.out.printf(Locale.ROOT, "float perplexity %.3f; RTN W%d g%d (asymmetric, min-max) %.3f%n", Math.exp(Trainer.validate(fp, data, 8, 0)),
                    bits, group, Math.exp(Trainer.validate(rtnModel, data, 8, 0)));
        }

        try (LlamaForCausalLM model = LlamaForCausalLM.load(checkpoint)) {
            // 1. Block-AP: calibration windows from the training split, 4 per step, 2 epochs per block.
            TokenDataset calibData = new TokenDataset(tokens, 0.25, 64, 42);
            List<TokenDataset.Batch> calib = new ArrayList<>();
            for (int i = 0; i < samples; i += 4) calib.add(calibData.nextTrainBatch(4));
            BlockApConfig cfg = new BlockApConfig(bits, group, 2, 1e-3, 1e-3, 1.0 / 20);
            Allocator.resetPeak();
            EfficientQatTraining.blockAp(model, calib, cfg, System.out);
            long blockGrads = Allocator.peakBytes(MemoryCategory.GRADIENTS);
            var c = model.config();
            long oneBlock = 4L * ((long) c.hiddenSize() * (2 * c.qDim() + 2 * c.kvDim() + 3 * c.intermediateSize()) + 2 * c.hiddenSize());
            System.out.printf(Locale.ROOT, "Block-AP gradient peak %d bytes = one block's float parameters (%d bytes) + its s, z; all %d blocks: %d bytes%n",
                    blockGrads, oneBlock, c.numHiddenLayers(), oneBlock * c.numHiddenLayers());
            try (QuantizedLlama q = QatExport.toQuantizedLlama(model, EfficientQatTraining.quantized(model)); LlamaForCausalLM deq = QatExport.dequantized(q)) {
                System.out.printf(Locale.ROOT, "after Block-AP: perplexity %.3f%n", Math.exp(Trainer.validate(deq, data, 8, 0)));
            }

            // 2. E2E-QP: only the step sizes s train, through the shared trainer.
            TrainConfig tc = new TrainConfig(steps, 8, 1, 1e-3, Math.max(1, steps * 3 / 100), 0.0, 0.0, 0.9, 0.999, 1e-8, TrainConfig.Optim.ADAMW,
                    false, 0.3, false, 0, 0, 0, 1000, 42, null, false);
            try (EfficientQatTraining e2e = new EfficientQatTraining(1e-3); Trainer trainer = new Trainer(model, e2e, data, tc, quiet)) {
                long scales = trainer.trainable().stream().mapToLong(p -> p.data().numel()).sum();
                Trainer.Result r = trainer.run();
                System.out.printf(Locale.ROOT, "E2E-QP: %d steps on %d step sizes (nothing else trains): perplexity %.3f%n", r.stepsDone(), scales,
                        r.finalValPerplexity());
                System.out.print(r.memory().format().replace("memory (peak by component)", "E2E-QP memory (peak by component)"));
            }
            try (QuantizedLlama q = QatExport.toQuantizedLlama(model, EfficientQatTraining.quantized(model)); LlamaForCausalLM deq = QatExport.dequantized(q)) {
                System.out.printf(Locale.ROOT, "exported W%dg%d checkpoint: perplexity %.3f, linears %d bytes (%s)%n", bits, group,
                        Math.exp(Trainer.validate(deq, data, 8, 0)), q.linearBytes(), MemoryReport.mib(q.linearBytes()));
            }
        }
        System.out.println("leaked bytes: " + (Allocator.liveBytes() - live0));
    }
}
