package io.lowbit.autograd.ops;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Every op's backward against central finite differences in F64. */
@ExtendWith(NoLeaks.class)
class OpsGradCheckTest {
    private final Rng rng = new Rng(42);
    private MemoryScope scope;

    @BeforeEach
    void open() { scope = MemoryScope.open(); }

    @AfterEach
    void close() { scope.close(); }

    private Var p(int... shape) { return Var.param(Tensor.normal(DType.F64, rng, 0, 1, shape)); }

    private Var positive(int... shape) { return Var.param(Tensor.uniform(DType.F64, rng, 0.5, 2.0, shape)); }

    private static void check(GradCheck.Fn f, Var... in) {
        GradCheck.Result r = GradCheck.assertGradients(f, in);
        assertTrue(r.checked() > 0);
    }

    @Test
    void broadcastingArithmetic() {
        Var a = p(3, 4), row = p(4), col = p(3, 1), den = positive(3, 4);
        check(in -> F.add(in[0], in[1]), a, row);
        check(in -> F.sub(in[0], in[1]), a, col);
        check(in -> F.mul(in[0], in[1]), a, row);
        check(in -> F.mul(in[0], in[1]), col, row); // both broadcast: [3,1]·[4] -> [3,4]
        check(in -> F.div(in[0], in[1]), row, den);
        check(in -> F.div(in[0], in[1]), a, positive(3, 1));
    }

    @Test
    void scalarOps() {
        Var a = p(2, 3);
        check(in -> F.add(in[0], 1.5), a);
        check(in -> F.mul(in[0], -2.5), a);
        check(in -> F.div(in[0], 4.0), a);
        check(in -> F.pow(in[0], 3.0), a);
        check(in -> F.pow(in[0], 0.5), positive(2, 3));
    }

    @Test
    void pointwise() {
        Var a = p(3, 5), pos = positive(3, 5);
        check(in -> F.neg(in[0]), a);
        check(in -> F.exp(in[0]), a);
        check(in -> F.log(in[0]), pos);
        check(in -> F.sqrt(in[0]), pos);
        check(in -> F.rsqrt(in[0]), pos);
        check(in -> F.tanh(in[0]), a);
        check(in -> F.sigmoid(in[0]), a);
        check(in -> F.relu(in[0]), a);
        check(in -> F.silu(in[0]), a);
        check(in -> F.square(in[0]), a);
        check(in -> F.abs(in[0]), a);
    }

    @Test
    void reductions() {
        Var a = p(2, 3, 4);
        check(in -> F.sum(in[0]), a);
        check(in -> F.mean(in[0]), a);
        check(in -> F.sum(in[0], 1, false), a);
        check(in -> F.sum(in[0], -1, true), a);
        check(in -> F.mean(in[0], 0, false), a);
        check(in -> F.mean(in[0], 2, true), a);
    }

    @Test
    void shapes() {
        Var a = p(2, 3, 4);
        check(in -> F.mul(F.reshape(in[0], 6, 4), F.reshape(in[0], 6, 4)), a);
        check(in -> F.transpose(in[0], 0, 2), a);
        check(in -> F.mul(F.permute(in[0], 1, 2, 0), F.permute(in[0], 1, 2, 0)), a); // non-contiguous grads
        check(in -> F.narrow(in[0], 1, 1, 2), a);
        check(in -> F.expand(in[0], 5, 2, 3, 4), a);
        check(in -> F.contiguous(F.transpose(in[0], 1, 2)), a);
        Var b = p(2, 1, 4), c = p(2, 2, 4);
        check(in -> F.mul(F.cat(1, in[0], in[1], in[2]), F.cat(1, in[0], in[1], in[2])), a, b, c);
    }

    @Test
    void matmulAndLinear() {
        check(in -> F.matmul(in[0], in[1]), p(3, 4), p(4, 5));
        check(in -> F.matmul(in[0], in[1]), p(2, 3, 4), p(4, 5)); // batched × shared
        check(in -> F.matmul(in[0], in[1]), p(2, 3, 4), p(2, 4, 5));
        check(in -> F.matmul(in[0], in[1]), p(3, 4), p(2, 4, 5)); // shared × batched
        check(in -> F.matmul(in[0], F.transpose(in[1], -1, -2)), p(2, 3, 4), p(2, 5, 4)); // transposed operand
        check(in -> F.linear(in[0], in[1]), p(2, 3, 4), p(5, 4));
        check(in -> F.linear(in[0], in[1], in[2]), p(3, 4), p(5, 4), p(5));
        check(in -> F.linear(in[0], in[1], in[2]), p(2, 2, 4), p(3, 4), p(3));
    }

    @Test
    void softmaxFamily() {
        Var a = p(3, 5);
        check(in -> F.softmax(in[0], 1), a);
        check(in -> F.softmax(in[0], 0), a);
        check(in -> F.logSoftmax(in[0], -1), a);
        check(in -> F.logSoftmax(in[0], 0), a);
    }

    @Test
    void embeddingAccumulatesRepeatedIds() {
        Tensor ids = Tensor.of(new int[] {1, 3, 1, 0, 3, 3}, 2, 3);
        check(in -> F.embedding(in[0], ids), p(5, 4));
    }

    @Test
    void rmsNorm() {
        check(in -> F.rmsNorm(in[0], in[1], 1e-5), p(2, 3, 7), p(7));
        check(in -> F.rmsNorm(F.transpose(in[0], 0, 1), in[1], 1e-6), p(3, 2, 5), p(5)); // non-contiguous input
    }

    @Test
    void ropeBothLayoutsWithOffset() {
        for (RopeTable.Layout layout : RopeTable.Layout.values()) {
            RopeTable table = new RopeTable(6, 16, 10000, layout);
            check(in -> F.rope(in[0], table, 0), p(2, 3, 2, 6));
            check(in -> F.rope(in[0], table, 5), p(1, 4, 3, 6));
        }
    }

    @Test
    void swiglu() {
        check(in -> F.swiglu(in[0], in[1]), p(3, 7), p(3, 7));
    }

    @Test
    void attention() {
        // GQA: 4 query heads share 2 kv heads
        check(in -> F.causalAttention(in[0], in[1], in[2]), p(2, 5, 4, 3), p(2, 5, 2, 3), p(2, 5, 2, 3));
        // sliding window of 2
        check(in -> F.causalAttention(in[0], in[1], in[2], 2), p(1, 6, 2, 4), p(1, 6, 1, 4), p(1, 6, 1, 4));
        // fewer queries than keys (the KV-cache case): queries are the last positions
        check(in -> F.causalAttention(in[0], in[1], in[2]), p(1, 2, 2, 3), p(1, 5, 2, 3), p(1, 5, 2, 3));
        // bidirectional
        check(in -> F.attention(in[0], in[1], in[2], false, 0, 0.7), p(1, 3, 3, 2), p(1, 4, 1, 2), p(1, 4, 1, 2));
    }

    @Test
    void mseLoss() {
        check(in -> F.mseLoss(in[0], in[1]), p(3, 4), p(3, 4));
    }

    @Test
    void dropout() {
        check(in -> F.dropout(in[0], 0.4, new Rng(7), true), p(4, 5));
    }

    @Test
    void crossEntropyWithIgnoreIndex() {
        Tensor targets = Tensor.of(new int[] {2, -100, 0, 4}, 4);
        check(in -> F.crossEntropy(in[0], targets), p(4, 5));
        Tensor t3 = Tensor.of(new int[] {1, 2, 0, 1, 7, 1}, 2, 3);
        check(in -> F.crossEntropy(in[0], t3, 7), p(2, 3, 4));
    }
}
