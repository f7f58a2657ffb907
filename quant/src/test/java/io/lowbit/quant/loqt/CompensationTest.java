package io.lowbit.quant.loqt;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.loqt.Compensation.ProjectionSide;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Step 4 of LoQT's update (error compensation) on small matrices worked out by hand. */
@ExtendWith(NoLeaks.class)
class CompensationTest {
    private static double[] dense(QuantizedTensor q) {
        try (Tensor d = q.dequantize()) {
            return d.toDoubleArray();
        }
    }

    @Test
    void pseudoInverseOfSmallMatrices() {
        // [[1,0,0],[0,2,0]]⁺ = [[1,0],[0,0.5],[0,0]]
        assertArrayEquals(new double[] {1, 0, 0, 0.5, 0, 0}, Compensation.pinv(new double[] {1, 0, 0, 0, 2, 0}, 2, 3), 1e-12);
        // tall: [[3],[4]]⁺ = [3, 4] / 25
        assertArrayEquals(new double[] {0.12, 0.16}, Compensation.pinv(new double[] {3, 4}, 2, 1), 1e-12);
        // rank-deficient rows (a zero singular vector): the zero row maps to a zero column, not infinity
        assertArrayEquals(new double[] {0.5, 0, 0, 0}, Compensation.pinv(new double[] {2, 0, 0, 0}, 2, 2), 1e-12);
    }

    @Test
    void oneIterationWithAOneColumnProjectionIsTheHandSolution() {
        // W_fp 2×2, in ≤ out ⇒ INPUT side: A = P̃ = [1, 0] (1×2), B (2×1) trainable, lowRank = B·P̃ touches column 0 only.
        // One iteration: Q = NF4(W_fp), R = W_fp − deq(Q), B = R·P̃⁺/s = R[:,0]/s, error = ‖R[:,1]‖.
        double s = 0.5;
        try (Tensor w = Tensor.of(new float[] {0.3f, -0.7f, 0.11f, 0.9f}, 2, 2); Tensor p = Tensor.of(new float[] {1, 0}, 1, 2)) {
            double[] deq;
            try (QuantizedTensor q = new Nf4Quantizer().quantize(w)) {
                deq = dense(q);
            }
            double[] wf = w.toDoubleArray();
            double[] r = new double[4];
            for (int i = 0; i < 4; i++) r[i] = wf[i] - deq[i];
            Compensation.Result res = Compensation.run(w, p, ProjectionSide.INPUT, s, 1, new Nf4Quantizer());
            try (QuantizedTensor q = res.quantized(); Tensor f = res.factor()) {
                assertArrayEquals(deq, dense(q), 0, "Q_1 = NF4(W_fp)");
                assertArrayEquals(new double[] {r[0] / s, r[2] / s}, f.toDoubleArray(), 1e-6, "B = R[:,0]/s");
                assertEquals(Math.hypot(r[1], r[3]), res.error(), 1e-6, "error = ‖R[:,1]‖");
            }
        }
    }

    @Test
    void fullRankProjectionAbsorbsTheQuantizationErrorOnBothSides() {
        Rng rng = new Rng(3);
        // INPUT (in ≤ out): P̃ = I_in; OUTPUT (in > out): P̃ = I_out. Then the adapter represents any residual exactly.
        for (int[] shape : new int[][] {{9, 5}, {5, 9}}) {
            int out = shape[0], in = shape[1];
            ProjectionSide side = ProjectionSide.forShape(out, in);
            int k = Math.min(out, in);
            float[] eye = new float[k * k];
            for (int i = 0; i < k; i++) eye[i * k + i] = 1;
            try (Tensor w = Tensor.normal(DType.F32, rng, 0, 0.1, out, in); Tensor p = Tensor.of(eye, k, k)) {
                Compensation.Result c0 = Compensation.run(w, p, side, 0.25, 0, new Nf4Quantizer());
                Compensation.Result c1 = Compensation.run(w, p, side, 0.25, 1, new Nf4Quantizer());
                try (var a = c0.quantized(); var b = c0.factor(); var c = c1.quantized(); var d = c1.factor()) {
                    assertTrue(c0.error() > 1e-3, "NF4 alone has a visible error: " + c0.error());
                    assertEquals(0, b.toDoubleArray()[0], 0, "C = 0 ⇒ factor = 0");
                    assertEquals(0, c1.error(), 1e-5, side + ": a full-rank adapter absorbs the residual");
                }
            }
        }
    }

    @Test
    void compensationLowersTheErrorOfALowRankProjection() {
        Rng rng = new Rng(11);
        for (int[] shape : new int[][] {{40, 24}, {24, 40}}) {
            int out = shape[0], in = shape[1], r = 6;
            ProjectionSide side = ProjectionSide.forShape(out, in);
            // W_fp with a strong rank-r component along a known projection, plus noise
            try (Tensor pRaw = Tensor.normal(DType.F32, rng, 0, 1, side == ProjectionSide.INPUT ? new int[] {r, in} : new int[] {out, r});
                 Tensor w = Tensor.normal(DType.F32, rng, 0, 0.05, out, in)) {
                Compensation.Result c0 = Compensation.run(w, pRaw, side, 0.5, 0, new Nf4Quantizer());
                Compensation.Result c5 = Compensation.run(w, pRaw, side, 0.5, 5, new Nf4Quantizer());
                try (var a = c0.quantized(); var b = c0.factor(); var c = c5.quantized(); var d = c5.factor()) {
                    assertEquals(5, c5.errors().length);
                    for (double e : c5.errors()) assertTrue(e >= c5.error());
                    assertTrue(c5.error() < 0.97 * c0.error(), side + ": compensated " + c5.error() + " vs plain " + c0.error());
                    // the reported error is the real one
                    try (Tensor dq = c.dequantize(); Tensor low = side == ProjectionSide.INPUT ? d.matmul(pRaw) : pRaw.matmul(d)) {
                        double[] wf = w.toDoubleArray(), q = dq.toDoubleArray(), l = low.toDoubleArray();
                        double sum = 0;
                        for (int i = 0; i < wf.length; i++) {
                            double e = wf[i] - (q[i] + 0.5 * l[i]);
                            sum += e * e;
                        }
                        assertEquals(Math.sqrt(sum), c5.error(), 1e-5);
                    }
                }
            }
        }
    }

    @Test
    void badShapesAreNamed() {
        try (Tensor w = Tensor.zeros(DType.F32, 4, 3); Tensor p = Tensor.zeros(DType.F32, 2, 4)) {
            var e = assertThrows(IllegalArgumentException.class, () -> Compensation.run(w, p, ProjectionSide.INPUT, 1, 1, new Nf4Quantizer()));
            assertTrue(e.getMessage().contains("[2, 4]") && e.getMessage().contains("[4, 3]"), e.getMessage());
        }
    }
}
