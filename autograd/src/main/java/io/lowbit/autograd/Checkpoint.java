package io.lowbit.autograd;

import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.List;

/**
 * Activation checkpointing (PyTorch's {@code torch.utils.checkpoint}): run a segment (say a transformer
 * block) without recording, keep only its inputs, and recompute it with recording on during backward.
 * Activations inside the segment are freed as soon as its forward returns, so they never coexist with
 * those of later segments; the price is a second forward. Gradients are the same bit for bit because
 * the recomputation runs the same kernels on the same inputs.
 *
 * <p>Parameters used inside the segment receive their gradients (and run their hooks) during the
 * recomputation's backward, so a checkpointed node is recorded whenever grad mode is on, even if none of
 * its inputs requires grad. A parameter shared by several segments gets one post-accumulate-hook call per
 * segment. A segment that draws random numbers (dropout) must name its {@link Rng}s so the recomputation
 * replays the same draws.
 */
public final class Checkpoint {
    private Checkpoint() {}

    /** A piece of the forward pass: Vars in, one Var out. */
    @FunctionalInterface
    public interface Segment {
        /** Computes the segment's output from its inputs. */
        Var apply(Var... inputs);
    }

    /** Runs {@code segment} on {@code inputs} checkpointed. */
    public static Var checkpoint(Segment segment, Var... inputs) {
        return new Node(segment, List.of()).apply(inputs);
    }

    /** Runs {@code segment} checkpointed, replaying the given random streams in the recomputation. */
    public static Var checkpoint(Segment segment, List<Rng> rngs, Var... inputs) {
        return new Node(segment, rngs).apply(inputs);
    }

    private static final class Node extends Function {
        private final Segment segment;
        private final List<Rng> rngs;
        private final long[] positions;

        Node(Segment segment, List<Rng> rngs) {
            this.segment = segment;
            this.rngs = List.copyOf(rngs);
            this.positions = new long[rngs.size()];
        }

        @Override
        public String name() {
            return "Checkpoint";
        }

        @Override
        boolean recordsWithoutGradInputs() {
            return true; // the segment's parameters are not inputs of this node
        }

        @Override
        protected Tensor forward(Tensor... in) {
            for (int i = 0; i < positions.length; i++) positions[i] = rngs.get(i).position();
            try (MemoryScope scope = MemoryScope.open()) {
                Var[] vs = new Var[in.length];
                for (int i = 0; i < in.length; i++) vs[i] = new Var(in[i].expand(in[i].shape()), false);
                Tensor out = segment.apply(vs).data().copy(); // everything else the segment made dies with the scope
                saveForBackward(in);
                return scope.keep(out);
            }
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            long[] now = new long[positions.length];
            for (int i = 0; i < positions.length; i++) {
                now[i] = rngs.get(i).position();
                rngs.get(i).seek(positions[i]);
            }
            Tensor[] grads = new Tensor[savedCount()];
            try (MemoryScope _ = MemoryScope.open(); GradMode.Scope _ = GradMode.enableGrad()) {
                Var[] leaves = new Var[grads.length];
                for (int i = 0; i < leaves.length; i++) {
                    Tensor x = saved(i);
                    leaves[i] = new Var(x.expand(x.shape()), needsInputGrad(i)).gradCategory(MemoryCategory.ACTIVATIONS);
                }
                Var out = segment.apply(leaves);
                if (out.requiresGrad()) out.backward(g);
                for (int i = 0; i < leaves.length; i++) {
                    Tensor gi = leaves[i].grad();
                    grads[i] = gi; // an activation gradient that escaped every scope: the engine frees it
                }
            } finally {
                for (int i = 0; i < positions.length; i++) rngs.get(i).seek(now[i]);
            }
            return grads;
        }
    }
}
