package io.lowbit.quant.efficientqat;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Activation;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.RMSNorm;
import io.lowbit.autograd.nn.Sequential;
import io.lowbit.autograd.ops.F;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** E2E-QP (spec "Phase 2"): only step sizes train, end to end, over frozen integer weights. */
@ExtendWith(NoLeaks.class)
class E2eQpTest {
    private static ScaleOnlyQuantLinear frozen(Linear fp) {
        AffineQuantizedTensor q = new AffineQuantizer(AffineSpec.perGroup(2, false, 8)).quantize(fp.weight().data());
        return new ScaleOnlyQuantLinear(q, fp.bias().data());
    }

    private static double taskLoss(Sequential model, List<Tensor> xs, List<Tensor> labels) {
        double sum = 0;
        try (GradMode.Scope _ = GradMode.noGrad()) {
            for (int i = 0; i < xs.size(); i++)
                try (MemoryScope _ = MemoryScope.open()) {
                    sum += F.crossEntropy(model.forward(new Var(xs.get(i))), labels.get(i)).item();
                }
        }
        return sum / xs.size();
    }

    /** Classification by a teacher MLP, learned by its 2-bit integer copy through step sizes alone. */
    @Test
    void stepSizesAloneReduceTheTaskLoss() {
        Rng rng = new Rng(71);
        List<Tensor> xs = new ArrayList<>(), labels = new ArrayList<>();
        try (Linear t1 = new Linear(16, 32, true, rng); Linear t2 = new Linear(32, 8, true, rng)) {
            Sequential teacher = new Sequential(t1, Activation.silu(), t2);
            for (int i = 0; i < 4; i++) {
                Tensor x = Tensor.normal(DType.F32, rng, 0, 1, 32, 16);
                xs.add(x);
                try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
                    labels.add(s.keep(teacher.forward(new Var(x)).data().argmax(1, false)));
                }
            }
            RMSNorm norm = new RMSNorm(16, 1e-6);
            Sequential student = new Sequential(norm, frozen(t1), Activation.silu(), frozen(t2));
            try (student; E2eQp e2e = new E2eQp(student, new E2eQpConfig(80, 3e-3, 0.03, 0.3, 0))) {
                assertFalse(norm.weight().requiresGrad(), "norms are frozen");
                assertEquals(2, e2e.scales().size());
                ScaleOnlyQuantLinear q1 = (ScaleOnlyQuantLinear) student.get("1");
                int[] codesBefore = codes(q1.quantized());
                double[] biasBefore = q1.bias().data().toDoubleArray();
                double before = taskLoss(student, xs, labels);
                for (int step = 0; step < 80; step++) {
                    int i = step % xs.size();
                    e2e.step(() -> F.crossEntropy(student.forward(new Var(xs.get(i))), labels.get(i)));
                }
                double after = taskLoss(student, xs, labels);
                System.out.printf("E2E-QP W2 g8 tiny MLP: task loss %.4f -> %.4f (80 steps, step sizes only)%n", before, after);
                assertTrue(after < 0.9 * before, "E2E-QP loss " + before + " -> " + after);
                try (AffineQuantizedTensor out = q1.toQuantizedTensor()) {
                    assertArrayEquals(codesBefore, codes(out), "integer codes never change");
                    boolean moved = false;
                    for (int r = 0; r < out.rows(); r++) moved |= out.scale(r, 0) != q1.quantized().scale(r, 0);
                    assertTrue(moved, "step sizes moved");
                }
                assertArrayEquals(biasBefore, q1.bias().data().toDoubleArray(), "bias frozen");
                assertNull(norm.weight().grad());
            }
        } finally {
            xs.forEach(Tensor::close);
            labels.forEach(Tensor::close);
        }
    }

    private static int[] codes(AffineQuantizedTensor q) {
        int[] c = new int[q.rows() * q.cols()];
        for (int r = 0; r < q.rows(); r++) for (int k = 0; k < q.cols(); k++) c[r * q.cols() + k] = q.code(r, k);
        return c;
    }
}
