package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;

/** Sums and means; backward broadcasts the gradient back over the reduced dimensions. */
final class Reductions {
    private Reductions() {}

    /** Σ over all elements (0-d result) or over one dimension; {@code mean} divides by the count. */
    static final class Sum extends Function {
        private final Integer dim; // null: all elements
        private final boolean keepdim, mean;
        private int[] inShape;

        Sum(Integer dim, boolean keepdim, boolean mean) {
            this.dim = dim;
            this.keepdim = keepdim;
            this.mean = mean;
        }

        @Override public String name() { return mean ? "Mean" : "Sum"; }

        @Override protected Tensor forward(Tensor... in) {
            inShape = in[0].shape();
            if (dim == null) return mean ? in[0].mean() : in[0].sum();
            return mean ? in[0].mean(dim, keepdim) : in[0].sum(dim, keepdim);
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor gk = g;
            long count = Shape.numel(inShape);
            if (dim != null) {
                int d = Shape.axis(dim, inShape.length);
                count = inShape[d];
                if (!keepdim) gk = g.unsqueeze(d);
            } else {
                int[] ones = new int[inShape.length];
                java.util.Arrays.fill(ones, 1);
                gk = g.reshape(ones);
            }
            Tensor out = Grads.expandCopy(gk, inShape);
            if (mean) out.mulInPlace(1.0 / count);
            return new Tensor[] {out};
        }
    }
}
