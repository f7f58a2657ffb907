package io.lowbit.models.train;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.autograd.optim.AdamW8bit;
import io.lowbit.autograd.optim.ClipGrad;
import io.lowbit.autograd.optim.DynamicLossScaler;
import io.lowbit.autograd.optim.LrScheduler;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.autograd.optim.ParamGroup;
import io.lowbit.autograd.optim.PerLayerOptimizer;
import io.lowbit.autograd.optim.Schedule;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.CrashPoint;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * The training loop every method shares. Per optimizer step t (0-based):
 * <ol>
 *   <li>{@link TrainingMethod#beforeStep}(t, runner); if it returns true the method used the step itself;</li>
 *   <li>otherwise {@code accum} micro-batches run forward and backward (each loss scaled by 1/accum, so the
 *       accumulated gradient is that of the mean loss), gradients are clipped to a global L2 norm, the optimizer
 *       steps and gradients are freed;</li>
 *   <li>the learning rate follows linear warmup then cosine decay ({@link Schedule#warmupCosine}).</li>
 * </ol>
 * Every micro-batch runs in its own {@link MemoryScope} and ends with {@link Var#backwardAndRelease()}, so
 * activation memory returns to its starting value after each step (checked: {@link Result#activationDriftBytes()}).
 *
 * <p><b>Numerical faults (policy).</b> Training here is fp32 end to end, where a NaN or ±Inf is a bug or a
 * divergence, not a rounding accident, so the run <em>stops</em>: the loss of every step is checked, and every
 * trainable gradient is checked after backward and before the optimizer sees it (through the clipping norm
 * when clipping is on, element by element otherwise), and every parameter after the update. The first step
 * where anything is non-finite ends the run with {@link Result#failure()} = "step t: ..." naming the loss and
 * each parameter that went bad by model path ({@code model.layers.1.mlp.down_proj.weight (3 of 512
 * elements, first [7] = NaN)}); no optimizer step is taken with a bad gradient, nothing is saved after it, and
 * the last checkpoint written before it stays intact to resume from (after lowering the learning rate, say).
 * In per-layer mode gradients are consumed during backward, so a bad gradient is reported as the parameter
 * it made non-finite, at the same step. Skipping a step instead is the right policy only where overflow is
 * expected, i.e. with reduced-precision gradients: {@link io.lowbit.autograd.optim.DynamicLossScaler} (skip
 * the step, halve the scale, grow it after a run of good steps) is that policy; this trainer has no bf16/f16
 * mode, so it does not use it.
 *
 * <p>Checkpoints ({@link TrainCheckpoint}) hold
 * everything needed to continue bit for bit: model, optimizer state, method state, step, schedule step and
 * the data-order stream position.
 */
public final class Trainer implements AutoCloseable {
    /**
     * Outcome of {@link #run}. {@code tokensPerSecond} counts training steps only (no validation) and leaves out
     * the first tenth of the steps (at least one), which pay JIT compilation, when there are later ones.
     */
    public record Result(String method, int stepsDone, double finalTrainLoss, double finalValLoss, double tokensPerSecond,
                         MemoryReport memory, long activationDriftBytes, String failure, MetricsLog metrics) {
        /** exp(validation loss). */
        public double finalValPerplexity() {
            return Math.exp(finalValLoss);
        }

        /** True when the run stopped on a non-finite value. */
        public boolean failed() {
            return failure != null;
        }
    }

    private final LlamaForCausalLM model;
    private final TrainingMethod method;
    private final TokenDataset data;
    private final TrainConfig cfg;
    private final PrintStream out;
    private final List<Parameter> trainable;
    private final Optimizer optimizer;           // null in per-layer mode
    private final PerLayerOptimizer perLayer;    // null otherwise
    private final LrScheduler scheduler;
    private final MetricsLog metrics;
    private int step;
    private double lastLoss = Double.NaN;

    /**
     * Prepares {@code method} on {@code model} (which the caller owns and closes), freezes every parameter the
     * method does not train, builds the optimizer and schedule, and restores a checkpoint when
     * {@code cfg.resume()} and one exists.
     */
    public Trainer(LlamaForCausalLM model, TrainingMethod method, TokenDataset data, TrainConfig cfg, PrintStream out) throws IOException {
        this.model = model;
        this.method = method;
        this.data = data;
        this.cfg = cfg;
        this.out = out;
        model.gradientCheckpointing(cfg.checkpointing());
        method.prepare(model, new Rng(cfg.seed()).fork("method:" + method.name()));
        trainable = List.copyOf(method.trainable(model));
        if (trainable.isEmpty()) throw new IllegalArgumentException("method '" + method.name() + "' trains no parameters");
        Set<Parameter> train = Collections.newSetFromMap(new IdentityHashMap<>());
        train.addAll(trainable);
        for (Parameter p : model.parameters()) if (!train.contains(p)) p.requiresGrad(false);
        for (Parameter p : trainable) p.requiresGrad(true);
        Function<List<Parameter>, Optimizer> factory = ps -> cfg.optimizer() == TrainConfig.Optim.ADAMW
                ? new AdamW(ps, cfg.lr(), cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.weightDecay())
                : new AdamW8bit(List.of(new ParamGroup(ps, cfg.lr(), cfg.weightDecay())), cfg.beta1(), cfg.beta2(), cfg.eps(), 2048, 4096);
        Schedule schedule = Schedule.warmupCosine(cfg.warmupSteps(), cfg.steps(), cfg.minLrRatio());
        if (cfg.perLayer()) {
            optimizer = null;
            perLayer = PerLayerOptimizer.attach(trainable, ps -> method.optimizer(asParams(ps), factory));
            scheduler = new LrScheduler(schedule, perLayer.optimizers());
        } else {
            optimizer = method.optimizer(trainable, factory);
            perLayer = null;
            scheduler = new LrScheduler(schedule, optimizer);
        }
        if (cfg.resume() && TrainCheckpoint.locate(cfg.outDir()) != null) {
            TrainCheckpoint.Restored r = TrainCheckpoint.read(cfg.outDir(), method.name(), model, optimizers(), method);
            step = r.step();
            scheduler.setStep(r.scheduleStep());
            data.seek(r.dataPosition());
            metrics = r.metrics();
            out.println("resumed " + method.name() + " from " + cfg.outDir().resolve("checkpoint") + " at step " + step);
        } else {
            metrics = new MetricsLog();
        }
    }

    private static List<Parameter> asParams(List<? extends Var> vs) {
        List<Parameter> ps = new ArrayList<>();
        for (Var v : vs) ps.add((Parameter) v);
        return ps;
    }

    /** The optimizers (one, or one per parameter in per-layer mode). */
    public List<Optimizer> optimizers() {
        return optimizer != null ? List.of(optimizer) : perLayer.optimizers();
    }

    /** The next step to run. */
    public int step() {
        return step;
    }

    /** The parameters being trained. */
    public List<Parameter> trainable() {
        return trainable;
    }

    /** Trains to the end of the schedule. */
    public Result run() throws IOException {
        return run(cfg.steps());
    }

    /**
     * Trains until step {@code stopAt} (≤ the schedule's length; stopping early is an interruption: the
     * schedule still spans {@code cfg.steps()}), validates, and writes a checkpoint if there is an output directory.
     */
    public Result run(int stopAt) throws IOException {
        if (stopAt > cfg.steps()) throw new IllegalArgumentException("stopAt " + stopAt + " beyond the run's " + cfg.steps() + " steps");
        Allocator.resetPeak();
        Progress progress = new Progress(out, method.name(), cfg.steps(), cfg.logEvery());
        long stepTokens = cfg.tokensPerStep(data.seqLen());
        long activationsAtStart = Allocator.liveBytes(MemoryCategory.ACTIVATIONS), drift = 0, tokens = 0;
        long trainNanos = 0, steadyNanos = 0, steadyTokens = 0;
        int firstStep = step, settle = Math.max(1, (stopAt - step) / 10); // the first steps pay JIT compilation
        String failure = null;
        double valLoss = Double.NaN;
        while (step < stopAt) {
            long t0 = System.nanoTime();
            double lr = optimizers().getFirst().paramGroups().getFirst().lr();
            failure = oneStep();
            long dt = System.nanoTime() - t0;
            trainNanos += dt;
            tokens += stepTokens;
            if (step - firstStep >= settle) {
                steadyNanos += dt;
                steadyTokens += stepTokens;
            }
            long now = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
            drift = Math.max(drift, Math.abs(now - activationsAtStart));
            if (failure != null) {
                out.println();
                out.println("stopped at " + failure + " (last good checkpoint left as it was)");
                break;
            }
            metrics.add("step", step, "loss", lastLoss, "lr", lr, "tok_s", tokens / (trainNanos / 1e9));
            progress.step(step, lastLoss, lr, stepTokens);
            step++;
            CrashPoint.reach("trainer.step");
            boolean last = step == stopAt;
            if (last || (cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0)) {
                valLoss = validate();
                metrics.add("step", step - 1, "val_loss", valLoss, "val_ppl", Math.exp(valLoss));
                out.printf(Locale.ROOT, "%s step %d validation loss %.4f perplexity %.2f%n", method.name(), step, valLoss, Math.exp(valLoss));
            }
            if (cfg.outDir() != null && (last || (cfg.saveEvery() > 0 && step % cfg.saveEvery() == 0))) save();
        }
        if (failure == null && Double.isNaN(valLoss) && data.validWindows() > 0) valLoss = validate();
        if (cfg.outDir() != null) writeMetrics(cfg.outDir());
        MemoryReport mem = MemoryReport.measure();
        double tps = steadyNanos > 0 ? steadyTokens / (steadyNanos / 1e9) : trainNanos > 0 ? tokens / (trainNanos / 1e9) : 0;
        return new Result(method.name(), step, lastLoss, valLoss, tps, mem, drift, failure, metrics);
    }

    /**
     * One optimizer step; returns a description of a non-finite value ("step t: ..." naming the loss or every
     * parameter whose gradient or value went bad), or null. Gradients are checked before the optimizer sees them.
     */
    private String oneStep() {
        double[] runnerLoss = {Double.NaN};
        boolean[] ran = {false};
        TrainingMethod.StepRunner runner = TrainingMethod.StepRunner.of(cfg.accum(), () -> {
            ran[0] = true;
            return runnerLoss[0] = forwardBackward();
        });
        if (method.beforeStep(step, runner)) { // the method used this step (e.g. a LoQT update step)
            zeroGrads();
            lastLoss = runnerLoss[0];
            scheduler.step();
            if (ran[0] && !Double.isFinite(runnerLoss[0])) return badLoss(runnerLoss[0]);
            String bad = nonFinite(false);
            return bad == null ? null : "step " + step + ": non-finite parameter after the method's step: " + bad;
        }
        double loss = runner.forwardBackward();
        lastLoss = loss;
        if (!Double.isFinite(loss)) {
            String why = badLoss(loss);
            zeroGrads();
            return why;
        }
        if (perLayer == null) { // (in per-layer mode gradients are consumed during backward: the parameter check below catches them)
            double norm = cfg.clipNorm() > 0 ? ClipGrad.clipGradNorm(trainable, cfg.clipNorm()) : Double.NaN;
            if (cfg.clipNorm() <= 0 || !Double.isFinite(norm)) { // a finite norm means every gradient is finite
                String bad = nonFinite(true);
                if (bad != null || cfg.clipNorm() > 0) {
                    zeroGrads();
                    return "step " + step + ": " + (bad != null ? "non-finite gradient: " + bad : "gradient norm overflowed to " + norm);
                }
            }
            optimizer.step();
            zeroGrads();
        }
        scheduler.step();
        String bad = nonFinite(false);
        return bad == null ? null : "step " + step + ": non-finite parameter after the update: " + bad;
    }

    /** "step t: loss is NaN", with the parameters (values, else gradients) holding non-finite elements when any do. */
    private String badLoss(double loss) {
        String params = nonFinite(false), grads = params == null ? nonFinite(true) : null;
        return "step " + step + ": loss is " + loss + (params != null ? "; non-finite parameter: " + params
                : grads != null ? "; non-finite gradient: " + grads : "");
    }

    private void zeroGrads() {
        for (Parameter p : model.parameters()) p.zeroGrad();
    }

    /** Forward and backward over the step's micro-batches (gradients accumulate); returns the mean loss. */
    private double forwardBackward() {
        double sum = 0;
        for (int m = 0; m < cfg.accum(); m++) {
            TokenDataset.Batch b = data.nextTrainBatch(cfg.microBatch());
            try (MemoryScope _ = MemoryScope.open();
                 Tensor x = Tensor.of(b.inputs(), b.batch(), b.seqLen()); Tensor y = Tensor.of(b.targets(), b.batch(), b.seqLen())) {
                Var loss = model.loss(x, y);
                sum += loss.item();
                Var scaled = cfg.accum() == 1 ? loss : loss.mul(1.0 / cfg.accum()); // gradient of the mean over micro-batches
                scaled.backwardAndRelease();
            }
        }
        return sum / cfg.accum();
    }

    /** Mean validation loss over up to {@code evalWindows} held-out windows (no gradients). */
    public double validate() {
        return validate(model, data, cfg.microBatch(), cfg.evalWindows());
    }

    /**
     * Mean validation loss of {@code model} over the first {@code evalWindows} (0 = all) held-out windows of
     * {@code data}, {@code microBatch} windows at a time, without gradients; NaN when there is no validation split.
     */
    public static double validate(LlamaForCausalLM model, TokenDataset data, int microBatch, int evalWindows) {
        int windows = data.validWindows();
        if (windows == 0) return Double.NaN;
        if (evalWindows > 0) windows = Math.min(windows, evalWindows);
        double sum = 0;
        int count = 0;
        boolean wasTraining = model.isTraining();
        model.eval();
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (int from = 0; from < windows; from += microBatch) {
                int n = Math.min(microBatch, windows - from);
                TokenDataset.Batch b = data.validBatch(from, n);
                try (MemoryScope _ = MemoryScope.open();
                     Tensor x = Tensor.of(b.inputs(), n, b.seqLen()); Tensor y = Tensor.of(b.targets(), n, b.seqLen())) {
                    sum += model.loss(x, y).item() * n;
                    count += n;
                }
            }
        } finally {
            model.train(wasTraining);
        }
        return sum / count;
    }

    /**
     * Every parameter (or gradient) holding NaN or ±Inf, by model path, with its count and first bad element
     * ("model.layers.1.mlp.down_proj.weight (3 of 512 elements, first [7] = NaN)"), or null when all are finite.
     */
    private String nonFinite(boolean grads) {
        List<String> bad = new ArrayList<>();
        for (var e : model.namedParameters().entrySet()) {
            Tensor t = grads ? e.getValue().grad() : e.getValue().data();
            if (t == null || DynamicLossScaler.allFinite(t)) continue;
            long first = -1, count = 0;
            for (long i = 0, n = t.numel(); i < n; i++)
                if (!Double.isFinite(t.getDouble(i)) && count++ == 0) first = i;
            bad.add(e.getKey() + " (" + count + " of " + t.numel() + " elements, first [" + first + "] = " + t.getDouble(first) + ")");
        }
        return bad.isEmpty() ? null : String.join(", ", bad);
    }

    /** Writes a resumable checkpoint of the current state and the metrics files. */
    public void save() throws IOException {
        TrainCheckpoint.write(cfg.outDir(), method.name(), model, optimizers(), method.extraState(), step, scheduler.currentStep(),
                data.position(), metrics);
        writeMetrics(cfg.outDir());
    }

    /** metrics.csv and loss.png (train and validation loss against step). */
    private void writeMetrics(Path dir) throws IOException {
        metrics.writeCsv(dir.resolve("metrics.csv"));
        new LinePlot(method.name() + ": loss", "step", "loss")
                .add("train", metrics.series("step", "loss"))
                .add("validation", metrics.series("step", "val_loss"))
                .writePng(dir.resolve("loss.png"));
    }

    /** Removes per-layer hooks and frees optimizer state (the model and method belong to the caller). */
    @Override
    public void close() {
        if (perLayer != null) perLayer.close();
        if (optimizer != null) optimizer.close();
    }
}
