package io.lowbit.models.qat;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.quant.ModelQuantizer;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.efficientqat.BlockAp;
import io.lowbit.quant.efficientqat.BlockApConfig;
import io.lowbit.quant.lrqat.Downcast;
import io.lowbit.quant.lrqat.LrQatConfig;
import io.lowbit.tensor.Allocator;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One quantization method applied to a float checkpoint on a fixed data set and budget, with what the
 * comparison reports: the quantized model (the checkpoint's content), validation loss on the pretraining's
 * held-out split, measured peak memory by component and wall time. Methods:
 * <ul>
 *   <li>{@code rtn}, {@code gptq}: round-to-nearest and GPTQ (asymmetric min-max grid, the project's
 *       {@link QuantMethods}); GPTQ calibrates on the first {@code calibSequences} training windows;</li>
 *   <li>{@code lr-qat}: {@link LrQatTraining} for {@code steps} steps through the shared {@link Trainer};</li>
 *   <li>{@code full-qat}: {@link FullQatTraining} (LSQ on every projection weight), same steps and data;</li>
 *   <li>{@code efficientqat}: Block-AP on {@code calibSequences} training windows for {@code blockEpochs}
 *       epochs (reported as its own row, {@code block-ap}), then E2E-QP for {@code steps} steps.</li>
 * </ul>
 * Every method sees the same data: training batches and calibration windows come from a fresh
 * {@link TokenDataset} with the same seed, so their order is identical.
 */
public final class QatRun {
    private QatRun() {}

    /** The method names {@link #run} accepts. */
    public static final List<String> METHODS = List.of("rtn", "gptq", "lr-qat", "full-qat", "efficientqat");

    /**
     * The budget and hyper-parameters shared by one comparison.
     *
     * @param bits           weight bits (2, 3, 4, 8)
     * @param group          input columns per scale group, ≤ 0 for per channel
     * @param steps          optimizer steps of LR-QAT, full QAT and E2E-QP
     * @param batch          sequences per step (and per Block-AP step)
     * @param seq            sequence length (the pretraining's, so the validation windows are the same)
     * @param lrQat          LR-QAT's learning rate for A and B
     * @param lrScale        learning rate of the step sizes s in LR-QAT and full QAT
     * @param lrFullQat      full QAT's learning rate for the weights
     * @param rank           LR-QAT's r
     * @param phi            LR-QAT's downcast φ of Φ0
     * @param calibSequences GPTQ calibration windows and Block-AP samples
     * @param blockEpochs    Block-AP epochs over its samples
     * @param blockLrWeights Block-AP learning rate of linear and norm weights
     * @param blockLrQuant   Block-AP learning rate of s and z
     * @param e2eLr          E2E-QP learning rate of s
     * @param clip           global gradient-norm clip of the trainer runs (0 = off)
     * @param evalWindows    validation windows scored (0 = all)
     * @param seed           data order and initialization seed
     */
    public record Settings(int bits, int group, int steps, int batch, int seq, double lrQat, double lrScale, double lrFullQat, int rank,
                           Downcast phi, int calibSequences, int blockEpochs, double blockLrWeights, double blockLrQuant, double e2eLr,
                           double clip, int evalWindows, long seed) {
        public Settings {
            if (steps < 1 || batch < 1 || seq < 2 || calibSequences < 1 || blockEpochs < 1)
                throw new IllegalArgumentException("steps, batch, calibration sequences and Block-AP epochs must be >= 1 and seq >= 2");
            if (group == 0 || group < -1) throw new IllegalArgumentException("group size must be -1 (per channel) or >= 1, got " + group);
        }

        /** A copy with other bits. */
        public Settings withBits(int b) {
            return new Settings(b, group, steps, batch, seq, lrQat, lrScale, lrFullQat, rank, phi, calibSequences, blockEpochs, blockLrWeights,
                    blockLrQuant, e2eLr, clip, evalWindows, seed);
        }

        /** A copy with another φ. */
        public Settings withPhi(Downcast d) {
            return new Settings(bits, group, steps, batch, seq, lrQat, lrScale, lrFullQat, rank, d, calibSequences, blockEpochs, blockLrWeights,
                    blockLrQuant, e2eLr, clip, evalWindows, seed);
        }

        /** LR-QAT's layer settings: α = 1, L_4 range setting, no activation quantization. */
        public LrQatConfig lrQatConfig() {
            return new LrQatConfig(bits, group, rank, 1.0, phi, 4, false);
        }

        /** Block-AP's settings (cosine to lr/20 as in the paper). */
        public BlockApConfig blockApConfig() {
            return new BlockApConfig(bits, group, blockEpochs, blockLrWeights, blockLrQuant, 1.0 / 20);
        }

        /** The trainer settings: AdamW β2 0.95 (LR-QAT's), 10% warmup then cosine to 0, the clip, no periodic evaluation. */
        TrainConfig trainConfig(double lr, Path out) {
            return new TrainConfig(steps, batch, 1, lr, Math.max(1, steps / 10), 0.0, 0.0, 0.9, 0.95, 1e-8, TrainConfig.Optim.ADAMW, false, clip,
                    false, 0, evalWindows, 0, 10, seed, out, false);
        }
    }

    /**
     * What one method produced.
     *
     * @param method  the row's name (rtn, gptq, lr-qat, full-qat, block-ap, efficientqat)
     * @param model   the quantized model (owned; closed with this outcome) — exactly what a checkpoint holds
     * @param valLoss validation loss of {@code model} on the held-out split
     * @param memory  peak off-heap bytes by component while the method ran (training or calibration)
     * @param seconds wall time of the method (without the final evaluation)
     */
    public record Outcome(String method, QuantizedLlama model, double valLoss, MemoryReport memory, double seconds) implements AutoCloseable {
        /** exp(validation loss). */
        public double perplexity() {
            return Math.exp(valLoss);
        }

        @Override
        public void close() {
            model.close();
        }
    }

    /**
     * Runs {@code method} on the float checkpoint {@code fp} with {@code tokens} (the corpus in the
     * checkpoint's tokenizer; the last 5% is the validation split, as in pretraining). {@code out} (may be
     * null) receives the trainer's metrics and checkpoints. Returns one outcome, or two for
     * {@code efficientqat} (Block-AP alone first); the caller closes them.
     */
    public static List<Outcome> run(String method, Path fp, int[] tokens, Settings s, Path out, PrintStream log) throws IOException {
        return switch (method) {
            case "rtn", "gptq" -> List.of(postTraining(method, fp, tokens, s, log));
            case "lr-qat" -> {
                LrQatTraining m = new LrQatTraining(s.lrQatConfig(), s.lrQat(), s.lrScale());
                yield List.of(trained(m, m::quantized, s.lrQat(), fp, tokens, s, out, log));
            }
            case "full-qat" -> {
                FullQatTraining m = new FullQatTraining(s.bits(), s.group(), 4, s.lrFullQat(), s.lrScale());
                yield List.of(trained(m, m::quantized, s.lrFullQat(), fp, tokens, s, out, log));
            }
            case "efficientqat" -> efficientQat(fp, tokens, s, out, log);
            default -> throw new IllegalArgumentException("unknown QAT method '" + method + "'; choose one of " + METHODS);
        };
    }

    /** The data every method shares: the same split and order for every call. */
    public static TokenDataset dataset(int[] tokens, Settings s) {
        return new TokenDataset(tokens, 0.05, s.seq(), s.seed());
    }

    /** Validation loss of a dense model on the held-out split, {@code batch} windows at a time. */
    public static double validate(LlamaForCausalLM model, int[] tokens, Settings s) {
        return Trainer.validate(model, dataset(tokens, s), s.batch(), s.evalWindows());
    }

    /** Validation loss of what a quantized model holds (its dequantized weights). */
    public static double validate(QuantizedLlama q, int[] tokens, Settings s) {
        try (LlamaForCausalLM m = QatExport.dequantized(q)) {
            return validate(m, tokens, s);
        }
    }

    private static Outcome postTraining(String method, Path fp, int[] tokens, Settings s, PrintStream log) throws IOException {
        try (LlamaWeights w = Checkpoints.load(fp)) {
            int[][] calib = null;
            if (method.equals("gptq")) {
                TokenDataset.Batch b = dataset(tokens, s).nextTrainBatch(s.calibSequences());
                calib = new int[b.batch()][];
                for (int i = 0; i < b.batch(); i++) calib[i] = java.util.Arrays.copyOfRange(b.inputs(), i * b.seqLen(), (i + 1) * b.seqLen());
            }
            Allocator.resetPeak();
            long t0 = System.nanoTime();
            QuantizedLlama q = ModelQuantizer.quantize(w, QuantMethods.of(method, s.bits(), s.group() > 0 ? s.group() : -1, false, false), calib, null);
            double secs = (System.nanoTime() - t0) / 1e9;
            MemoryReport mem = MemoryReport.measure();
            return scored(method, q, tokens, s, mem, secs, log);
        }
    }

    /** Trains {@code m} through the shared trainer, then exports {@code merged} (the method's integer layers). */
    private static Outcome trained(TrainingMethod m, java.util.function.Supplier<Map<String, QuantizedTensor>> merged, double lr, Path fp, int[] tokens,
                                   Settings s, Path out, PrintStream log) throws IOException {
        try (LlamaForCausalLM model = LlamaForCausalLM.load(fp); m) {
            long t0 = System.nanoTime();
            Trainer.Result r;
            try (Trainer trainer = new Trainer(model, m, dataset(tokens, s), s.trainConfig(lr, out), log)) {
                r = trainer.run();
            }
            if (r.failed()) throw new IllegalStateException(m.name() + " training failed: " + r.failure());
            double secs = (System.nanoTime() - t0) / 1e9;
            return scored(m.name(), QatExport.toQuantizedLlama(model, merged.get()), tokens, s, r.memory(), secs, log);
        }
    }

    private static List<Outcome> efficientQat(Path fp, int[] tokens, Settings s, Path out, PrintStream log) throws IOException {
        List<Outcome> res = new ArrayList<>();
        try (LlamaForCausalLM model = LlamaForCausalLM.load(fp)) {
            TokenDataset calibData = dataset(tokens, s);
            List<TokenDataset.Batch> calib = new ArrayList<>();
            for (int n = 0; n < s.calibSequences(); n += s.batch()) calib.add(calibData.nextTrainBatch(Math.min(s.batch(), s.calibSequences() - n)));
            Allocator.resetPeak();
            long t0 = System.nanoTime();
            List<BlockAp.Report> reports = EfficientQatTraining.blockAp(model, calib, s.blockApConfig(), log);
            double blockSecs = (System.nanoTime() - t0) / 1e9;
            MemoryReport blockMem = MemoryReport.measure();
            if (reports.size() != model.config().numHiddenLayers()) throw new IllegalStateException("Block-AP trained " + reports.size() + " blocks");
            res.add(scored("block-ap", QatExport.toQuantizedLlama(model, EfficientQatTraining.quantized(model)), tokens, s, blockMem, blockSecs, log));
            long t1 = System.nanoTime();
            Trainer.Result r;
            try (EfficientQatTraining e2e = new EfficientQatTraining(s.e2eLr());
                 Trainer trainer = new Trainer(model, e2e, dataset(tokens, s), s.trainConfig(s.e2eLr(), out), log)) {
                r = trainer.run();
            }
            if (r.failed()) throw new IllegalStateException("E2E-QP training failed: " + r.failure());
            double secs = blockSecs + (System.nanoTime() - t1) / 1e9;
            MemoryReport mem = max(blockMem, r.memory());
            res.add(scored("efficientqat", QatExport.toQuantizedLlama(model, EfficientQatTraining.quantized(model)), tokens, s, mem, secs, log));
            return res;
        } catch (IOException | RuntimeException e) {
            for (Outcome o : res) o.close();
            throw e;
        }
    }

    /** Per-component maximum of two phases' peaks. */
    static MemoryReport max(MemoryReport a, MemoryReport b) {
        Map<io.lowbit.tensor.MemoryCategory, Long> m = new java.util.EnumMap<>(io.lowbit.tensor.MemoryCategory.class);
        for (io.lowbit.tensor.MemoryCategory c : io.lowbit.tensor.MemoryCategory.values()) m.put(c, Math.max(a.peak(c), b.peak(c)));
        return new MemoryReport(m);
    }

    private static Outcome scored(String name, QuantizedLlama q, int[] tokens, Settings s, MemoryReport mem, double secs, PrintStream log) {
        try {
            double loss = validate(q, tokens, s);
            if (log != null)
                log.printf(Locale.ROOT, "%s W%d%s: validation perplexity %.3f (%.1f s, peak %s)%n", name, s.bits(),
                        s.group() > 0 ? "g" + s.group() : " per-channel", Math.exp(loss), secs, MemoryReport.mib(mem.total()));
            return new Outcome(name, q, loss, mem, secs);
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }
}
