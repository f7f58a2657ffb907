package io.lowbit.quant.nn;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** QuantLinear's forward and input gradient against F.linear on the dequantized weight (the dense reference). */
@ExtendWith(NoLeaks.class)
class QuantLinearTest {
    static Tensor weight(long seed, int rows, int cols) {
        return Tensor.normal(DType.F32, new Rng(seed), 0, 0.1, rows, cols).label(MemoryCategory.WEIGHTS);
    }

    private static void check(QuantizedTensor q, int n, long seed) {
        int in = q.cols(), out = q.rows();
        try (QuantLinear layer = new QuantLinear(q); Tensor dense = q.dequantize();
             Var x = new Var(Tensor.normal(DType.F32, new Rng(seed), 0, 1, n, in), true);
             Var xr = new Var(x.data().copy(), true);
             Tensor dy = Tensor.normal(DType.F32, new Rng(seed + 1), 0, 1, n, out)) {
            assertTrue(layer.parameters().isEmpty(), "a quantized base has no trainable parameters");
            Var w = new Var(dense); // the dense reference weight, not trained
            Var y = layer.forward(x), yr = F.linear(xr, w);
            float[] a = y.data().toFloatArray(), b = yr.data().toFloatArray();
            for (int i = 0; i < a.length; i++)
                assertEquals(b[i], a[i], 1e-4 * (1 + Math.abs(b[i])), "forward element " + i + " for [" + out + ", " + in + "] n=" + n);
            y.backward(dy);
            yr.backward(dy);
            float[] ga = x.grad().toFloatArray(), gb = xr.grad().toFloatArray();
            for (int i = 0; i < ga.length; i++)
                assertEquals(gb[i], ga[i], 1e-4 * (1 + Math.abs(gb[i])), "dL/dx element " + i + " for [" + out + ", " + in + "] n=" + n);
            y.close();
            yr.close();
        }
    }

    @Test
    void affineForwardAndInputGradMatchDenseOnOddShapes() {
        int[] odd = {1, 7, 33, 65, 129};
        long seed = 1;
        for (int rows : odd)
            for (int cols : new int[] {7, 63, 129})
                for (int n : new int[] {1, 3, 5, 33}) {
                    try (Tensor w = weight(seed++, rows, cols)) {
                        check(new AffineQuantizer(AffineSpec.perGroup(3, false, 32)).quantize(w), n, seed);
                    }
                }
    }

    @Test
    void nf4ForwardAndInputGradMatchDense() {
        for (int[] s : new int[][] {{31, 64}, {65, 128}, {7, 200}}) {
            for (int n : new int[] {2, 9}) {
                try (Tensor w = weight(s[0] * 7L + n, s[0], s[1])) {
                    check(new Nf4Quantizer().quantize(w), n, 3);
                }
            }
        }
    }

    @Test
    void batchedInputsAndF64InputsKeepTheirShapeAndDtype() {
        try (Tensor w = weight(5, 9, 16); QuantLinear layer = new QuantLinear(new AffineQuantizer(AffineSpec.perChannel(4, false)).quantize(w));
             Var x = new Var(Tensor.normal(DType.F64, new Rng(2), 0, 1, 2, 3, 16), true)) {
            Var y = layer.forward(x);
            assertArrayEquals(new int[] {2, 3, 9}, y.shape());
            assertEquals(DType.F64, y.dtype());
            try (Var loss = F.sum(y)) {
                loss.backward();
            }
            assertEquals(DType.F64, x.grad().dtype());
            assertArrayEquals(new int[] {2, 3, 16}, x.grad().shape());
            // d(sum y)/dx = column sums of deq(W)
            try (Tensor d = layer.weight().dequantize()) {
                for (int c = 0; c < 16; c++) {
                    double s = 0;
                    for (int r = 0; r < 9; r++) s += d.get(r, c);
                    assertEquals(s, x.grad().get(1, 2, c), 1e-5);
                }
            }
            y.close();
        }
    }

    @Test
    void wrongInputWidthNamesBothShapes() {
        try (Tensor w = weight(5, 9, 16); QuantLinear layer = new QuantLinear(new AffineQuantizer(AffineSpec.perChannel(4, false)).quantize(w));
             Var x = new Var(Tensor.zeros(DType.F32, 2, 15))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> layer.forward(x));
            assertTrue(e.getMessage().contains("[2, 15]") && e.getMessage().contains("[9, 16]"), e.getMessage());
        }
    }
}
