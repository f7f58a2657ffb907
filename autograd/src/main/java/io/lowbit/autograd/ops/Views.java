package io.lowbit.autograd.ops;

import io.lowbit.autograd.Function;
import io.lowbit.tensor.Shape;
import io.lowbit.tensor.Tensor;
import java.util.Arrays;

/**
 * Shape ops. Forward returns a view where the tensor module can (reshape of contiguous data,
 * transpose, permute, narrow, expand); backward maps the gradient back the same way.
 */
final class Views {
    private Views() {}

    /** Same elements, new shape; gradient reshaped back. */
    static final class Reshape extends Function {
        private final int[] shape;
        private int[] inShape;
        Reshape(int[] shape) { this.shape = shape.clone(); }

        @Override protected Tensor forward(Tensor... in) {
            inShape = in[0].shape();
            return in[0].reshape(shape);
        }

        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g.reshape(inShape)}; }
    }

    /** Reordered dimensions (transpose is the two-axis case); gradient permuted by the inverse order. */
    static final class Permute extends Function {
        private final int[] order;
        Permute(int[] order) { this.order = order.clone(); }

        @Override protected Tensor forward(Tensor... in) { return in[0].permute(order); }

        @Override protected Tensor[] backward(Tensor g) {
            int[] inverse = new int[order.length];
            for (int i = 0; i < order.length; i++) inverse[Shape.axis(order[i], order.length)] = i;
            return new Tensor[] {g.permute(inverse)};
        }

        static int[] swap(int rank, int d0, int d1) {
            int[] o = new int[rank];
            for (int i = 0; i < rank; i++) o[i] = i;
            d0 = Shape.axis(d0, rank); d1 = Shape.axis(d1, rank);
            o[d0] = d1; o[d1] = d0;
            return o;
        }
    }

    /** Elements [start, start+length) along dim; gradient scattered into zeros. */
    static final class Narrow extends Function {
        private final int dim, start, length;
        private int[] inShape;
        Narrow(int dim, int start, int length) { this.dim = dim; this.start = start; this.length = length; }

        @Override protected Tensor forward(Tensor... in) {
            inShape = in[0].shape();
            return in[0].narrow(dim, start, length);
        }

        @Override protected Tensor[] backward(Tensor g) {
            Tensor out = Tensor.zeros(g.dtype(), inShape);
            out.narrow(dim, start, length).copyFrom(g);
            return new Tensor[] {out};
        }
    }

    /** Broadcast view to a larger shape; gradient summed back. */
    static final class Expand extends Function {
        private final int[] shape;
        private int[] inShape;
        Expand(int[] shape) { this.shape = shape.clone(); }

        @Override protected Tensor forward(Tensor... in) {
            inShape = in[0].shape();
            return Shape.broadcastTo(in[0], shape).expand(shape);
        }

        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {Grads.reduceTo(g, inShape)}; }
    }

    /** Contiguous copy (or the input itself); gradient passes through. */
    static final class Contiguous extends Function {
        @Override protected Tensor forward(Tensor... in) { return in[0].contiguous(); }

        @Override protected Tensor[] backward(Tensor g) { return new Tensor[] {g}; }
    }

    /** Concatenation along dim; each input's gradient is its slice of g (a view). */
    static final class Cat extends Function {
        private final int dim;
        private int[] sizes;
        Cat(int dim) { this.dim = dim; }

        @Override protected Tensor forward(Tensor... in) {
            int d = Shape.axis(dim, in[0].dim());
            sizes = Arrays.stream(in).mapToInt(t -> t.size(d)).toArray();
            return Tensor.cat(d, in);
        }

        @Override protected Tensor[] backward(Tensor g) {
            int d = Shape.axis(dim, g.dim());
            Tensor[] out = new Tensor[sizes.length];
            for (int i = 0, at = 0; i < sizes.length; at += sizes[i], i++)
                if (needsInputGrad(i)) out[i] = g.narrow(d, at, sizes[i]);
            return out;
        }
    }
}
