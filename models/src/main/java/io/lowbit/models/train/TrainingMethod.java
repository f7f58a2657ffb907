package io.lowbit.models.train;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A way of training a model, plugged into the shared {@link Trainer}: which layers it replaces, which
 * parameters learn, which optimizer steps them, and what it does at special steps. Full-rank training,
 * LoRA, ReLoRA, GaLore, LoQT and LoQT-nq are all {@code TrainingMethod}s, so they share data, schedule,
 * progress, checkpoints, metrics and plots and differ only where the methods differ.
 *
 * <p>Call order: {@link #prepare} once on a freshly initialized model; the trainer then builds the
 * optimizer over {@link #trainable} with {@link #optimizer}; at every optimizer step t it calls
 * {@link #beforeStep} first — a method that returns true has used the step itself (LoQT's update steps:
 * merge, requantize, full-gradient pass, new projection) and the trainer does no optimizer step for it.
 */
public interface TrainingMethod extends AutoCloseable {
    /** Runs the forward and backward passes of the current step's batch (all micro-batches). */
    @FunctionalInterface
    interface StepRunner {
        /** Accumulates gradients of the current step's whole batch into the model; returns the mean loss. */
        double forwardBackward();

        /**
         * How many backward passes (micro-batches) {@link #forwardBackward()} runs, or 0 when unknown. Knowing it
         * lets a method act on a layer's gradient as soon as that layer's last contribution has arrived (LoQT
         * finishes each layer's update step inside the last backward pass).
         */
        default int microBatches() {
            return 0;
        }

        /** A runner that declares it runs {@code microBatches} backward passes. */
        static StepRunner of(int microBatches, StepRunner run) {
            return new StepRunner() {
                @Override
                public double forwardBackward() {
                    return run.forwardBackward();
                }

                @Override
                public int microBatches() {
                    return microBatches;
                }
            };
        }
    }

    /** Short name used in logs, tables and file names ("full", "loqt", ...). */
    String name();

    /** Adapts a freshly initialized model (for example swaps its linear layers for adapter layers). */
    void prepare(Module model, Rng rng);

    /** The parameters the optimizer updates; every other parameter of the model is frozen. */
    List<Parameter> trainable(Module model);

    /**
     * The optimizer over {@code params}. The default is the trainer's choice ({@code defaultFactory}:
     * AdamW or 8-bit AdamW with the run's lr/betas/eps/weight decay); GaLore supplies its own.
     */
    default Optimizer optimizer(List<Parameter> params, Function<List<Parameter>, Optimizer> defaultFactory) {
        return defaultFactory.apply(params);
    }

    /**
     * Called before optimizer step {@code step} (0-based). Return true when this method used the step
     * itself, in which case the trainer performs no optimizer step (gradients are cleared either way).
     */
    default boolean beforeStep(int step, StepRunner runner) {
        return false;
    }

    /** Tensors beyond parameters and optimizer state that a resumable checkpoint must hold (by name). */
    default Map<String, Tensor> extraState() {
        return Map.of();
    }

    /** Restores what {@link #extraState()} returned. */
    default void loadExtraState(Map<String, Tensor> state) {}

    /**
     * Folds whatever the method replaced back into plain dense layers (adapters merged, weights dequantized) so
     * the model can be exported as a Hugging Face checkpoint after training. The default has nothing to fold.
     */
    default void mergeForExport(Module model) {}

    /** Releases what the method allocated beyond the model (buffers, side gradients). */
    @Override
    default void close() {}
}
