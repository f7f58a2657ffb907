package io.lowbit.autograd.ops;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.function.Function;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The F32 Vector API kernels against the F64 reference path (same inputs, same output gradient) on odd
 * sizes, and the fused F64 ops against plain compositions of primitive ops (their definition).
 */
@ExtendWith(NoLeaks.class)
class FusedKernelTest {

    /** Runs op on F64 inputs and on their F32 copies; compares outputs and every input gradient. */
    private static void compare(Function<Var[], Var> op, double tol, Tensor... inputs64) {
        try (MemoryScope _ = MemoryScope.open()) {
            Var[] v64 = new Var[inputs64.length], v32 = new Var[inputs64.length];
            for (int i = 0; i < inputs64.length; i++) {
                v64[i] = Var.param(inputs64[i]);
                v32[i] = Var.param(inputs64[i].to(DType.F32));
            }
            Var y64 = op.apply(v64), y32 = op.apply(v32);
            assertEquals(DType.F32, y32.dtype());
            assertClose("output", y64.data(), y32.data(), tol);
            Tensor g = Tensor.normal(DType.F64, new Rng(9), 0, 1, y64.shape());
            y64.backward(g);
            y32.backward(g.to(DType.F32));
            for (int i = 0; i < inputs64.length; i++) {
                assertClose("grad " + i, v64[i].grad(), v32[i].grad(), tol);
                v64[i].zeroGrad();
                v32[i].zeroGrad();
            }
        } finally {
            for (Tensor t : inputs64) t.close(); // made by the caller outside the scope
        }
    }

    static void assertClose(String what, Tensor ref, Tensor got, double tol) {
        assertArrayEquals(ref.shape(), got.shape(), what + " shape");
        double scale = 0;
        for (long i = 0; i < ref.numel(); i++) scale = Math.max(scale, Math.abs(ref.getDouble(i)));
        for (long i = 0; i < ref.numel(); i++) {
            double a = ref.getDouble(i), b = got.getDouble(i);
            if (!(Math.abs(a - b) <= tol * (1 + scale)))
                fail(what + " element " + i + ": reference " + a + " vs " + b + " (scale " + scale + ")");
        }
    }

    private static Tensor n(long seed, int... shape) {
        return Tensor.normal(DType.F64, new Rng(seed), 0, 1, shape);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void rmsNormF32(int d) {
        compare(in -> F.rmsNorm(in[0], in[1], 1e-5), 2e-5, n(d, 3, 5, d), n(d + 1, d));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void broadcastBackwardF32(int n) {
        compare(in -> F.linear(in[0], in[1], in[2]), 2e-5, n(n, 3, n, 5), n(n + 1, 7, 5), n(n + 2, 7));
        compare(in -> F.add(in[0], in[1]), 2e-6, n(n, 2, n, 3), n(n + 1, 3));
        compare(in -> F.mul(in[0], in[1]), 2e-6, n(n, 4, n), n(n + 1, n));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void exponentialPointwiseF32(int n) {
        compare(in -> F.exp(in[0]), 2e-6, n(n, 3, n));
        compare(in -> F.sigmoid(in[0]), 2e-6, n(n, 3, n));
        compare(in -> F.silu(in[0]), 2e-6, n(n, 3, n));
        compare(in -> F.silu(F.transpose(in[0], 0, 1)), 2e-6, n(n, 3, n)); // strided input
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void swigluF32(int d) {
        compare(in -> F.swiglu(in[0], in[1]), 2e-5, n(d, 3, d), n(d + 1, 3, d));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 6, 32, 34, 64, 66, 128, 130})
    void ropeF32(int d) {
        for (RopeTable.Layout layout : RopeTable.Layout.values()) {
            RopeTable t = new RopeTable(d, 40, 10000, layout);
            compare(in -> F.rope(in[0], t, 3), 2e-5, n(d, 2, 7, 3, d));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void attentionF32(int t) {
        compare(in -> F.causalAttention(in[0], in[1], in[2]), 5e-5, n(t, 2, t, 4, 7), n(t + 1, 2, t, 2, 7), n(t + 2, 2, t, 2, 7));
        compare(in -> F.causalAttention(in[0], in[1], in[2], 5), 5e-5, n(t, 1, t, 3, 33), n(t + 1, 1, t, 1, 33), n(t + 2, 1, t, 1, 33));
        // query tiles (64 rows) cut the key range mid-vector; fewer queries than keys (a cached prefix); no mask
        compare(in -> F.causalAttention(in[0], in[1], in[2], 70), 5e-5, n(t, 1, t, 2, 32), n(t + 1, 1, t + 3, 1, 32), n(t + 2, 1, t + 3, 1, 32));
        compare(in -> F.attention(in[0], in[1], in[2], false, 0, 0.3), 5e-5, n(t, 1, t, 2, 16), n(t + 1, 1, 19, 2, 16), n(t + 2, 1, 19, 2, 16));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void attentionHeadSizesF32(int d) {
        compare(in -> F.causalAttention(in[0], in[1], in[2], 3), 5e-5, n(d, 1, 5, 2, d), n(d + 1, 1, 5, 1, d), n(d + 2, 1, 5, 1, d));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void embeddingAndDropoutF32(int d) {
        try (Tensor ids = Tensor.of(new int[] {2, 0, 2, 1}, 4)) {
            compare(in -> F.embedding(in[0], ids), 1e-6, n(d, 3, d));
        }
        compare(in -> F.dropout(in[0], 0.3, new Rng(4), true), 1e-6, n(d, 3, d));
    }

    @Test
    void dropoutF32MaskEqualsThePlainLoopExactly() {
        // the F32 fast path of Dropout.masked against the definition: keep x_i·1/(1 − p) iff u_{start+i} ≥ p
        double p = 0.3;
        Rng rng = new Rng(4);
        try (Tensor x = Tensor.normal(DType.F32, new Rng(5), 0, 1, 7, 33); Tensor y = Dropout.masked(x, p, rng, 11)) {
            float[] xs = x.toFloatArray(), ys = y.toFloatArray();
            for (int i = 0; i < xs.length; i++)
                assertEquals(rng.uniformAt(11 + i) >= p ? (float) (xs[i] * (1 / (1 - p))) : 0f, ys[i], "element " + i);
            assertEquals(0, rng.position(), "masked does not advance the stream");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 31, 33, 63, 65, 127, 129})
    void crossEntropyF32(int vocab) {
        int[] targets = new int[9];
        for (int i = 0; i < targets.length; i++) targets[i] = i == 4 ? -100 : (i * 7) % vocab;
        try (Tensor tg = Tensor.of(targets, 9)) {
            compare(in -> F.crossEntropy(in[0], tg), 2e-5, n(vocab, 9, vocab));
        }
    }

    // ------------------------------------------------------------------ fused = composition (F64)

    private static void sameAs(Function<Var[], Var> fused, Function<Var[], Var> composed, Tensor... inputs) {
        try (MemoryScope _ = MemoryScope.open()) {
            Var[] a = new Var[inputs.length], b = new Var[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                a[i] = Var.param(inputs[i]);
                b[i] = Var.param(inputs[i].copy());
            }
            Var ya = fused.apply(a), yb = composed.apply(b);
            assertClose("output", yb.data(), ya.data(), 1e-12);
            Tensor g = Tensor.normal(DType.F64, new Rng(5), 0, 1, ya.shape());
            ya.backward(g);
            yb.backward(g);
            for (int i = 0; i < inputs.length; i++) {
                assertClose("grad " + i, b[i].grad(), a[i].grad(), 1e-12);
                a[i].zeroGrad();
                b[i].zeroGrad();
            }
        } finally {
            for (Tensor t : inputs) t.close();
        }
    }

    @Test
    void rmsNormIsItsDefinition() {
        sameAs(in -> F.rmsNorm(in[0], in[1], 1e-5),
                in -> F.mul(F.mul(in[0], F.rsqrt(F.add(F.mean(F.square(in[0]), -1, true), 1e-5))), in[1]),
                n(1, 4, 9), n(2, 9));
    }

    @Test
    void swigluIsItsDefinition() {
        sameAs(in -> F.swiglu(in[0], in[1]), in -> F.mul(F.silu(in[0]), in[1]), n(1, 5, 6), n(2, 5, 6));
    }

    @Test
    void attentionIsSoftmaxOfMaskedScores() {
        int b = 1, t = 5, hq = 4, hkv = 2, d = 3, window = 3;
        // reference: repeat kv heads, scores = q·kᵀ/√d, mask (causal + window) with −1e30, softmax, ·v
        double[] mask = new double[t * t];
        for (int i = 0; i < t; i++) for (int j = 0; j < t; j++) mask[i * t + j] = (j <= i && j > i - window) ? 0 : -1e30;
        Tensor maskT = Tensor.of(mask, t, t);
        sameAs(in -> F.causalAttention(in[0], in[1], in[2], window), in -> {
            Var q = F.permute(in[0], 0, 2, 1, 3); // [B, H, T, d]
            Var k = F.permute(F.reshape(F.expand(F.reshape(in[1], b, t, hkv, 1, d), b, t, hkv, hq / hkv, d), b, t, hq, d), 0, 2, 1, 3);
            Var v = F.permute(F.reshape(F.expand(F.reshape(in[2], b, t, hkv, 1, d), b, t, hkv, hq / hkv, d), b, t, hq, d), 0, 2, 1, 3);
            Var scores = F.add(F.mul(F.matmul(q, F.transpose(k, -1, -2)), 1 / Math.sqrt(d)), new Var(maskT));
            return F.permute(F.matmul(F.softmax(scores, -1), v), 0, 2, 1, 3);
        }, n(1, b, t, hq, d), n(2, b, t, hkv, d), n(3, b, t, hkv, d));
        maskT.close();
    }

    @Test
    void crossEntropyIsMeanNegativeLogLikelihood() {
        Tensor targets = Tensor.of(new int[] {3, 0, -100, 2}, 4);
        double[] pick = new double[16]; // one-hot rows of the non-ignored targets, built here only as a reference
        pick[3] = 1; pick[4] = 1; pick[12 + 2] = 1;
        Tensor onehot = Tensor.of(pick, 4, 4);
        sameAs(in -> F.crossEntropy(in[0], targets),
                in -> F.mul(F.sum(F.mul(F.logSoftmax(in[0], 1), new Var(onehot))), -1.0 / 3),
                n(4, 4, 4));
        targets.close();
        onehot.close();
    }

    @Test
    void crossEntropyEdgeCases() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var x = Var.param(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            Var all = F.crossEntropy(x, Tensor.of(new int[] {-100, -100}, 2));
            assertTrue(Double.isNaN(all.item()), "mean over no rows is NaN (as in PyTorch)");
            all.backward();
            for (float v : x.grad().toFloatArray()) assertEquals(0f, v);
            x.zeroGrad();
            // one row: loss = logsumexp(4, 5, 6) − 6
            double lse = Math.log(Math.exp(4) + Math.exp(5) + Math.exp(6));
            assertEquals(lse - 6, F.crossEntropy(x, Tensor.of(new int[] {-100, 2}, 2)).item(), 1e-6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> F.crossEntropy(x, Tensor.of(new int[] {0, 3}, 2)));
            assertTrue(e.getMessage().contains("target 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> F.crossEntropy(x, Tensor.of(new int[] {0, 1, 2}, 3)));
            assertTrue(e.getMessage().contains("2 rows") && e.getMessage().contains("3 targets"), e.getMessage());
        }
    }

    @Test
    void ropeRotatesPairsByPositionAngle() {
        RopeTable inter = new RopeTable(4, 8, 100, RopeTable.Layout.INTERLEAVED);
        RopeTable half = new RopeTable(4, 8, 100, RopeTable.Layout.HALF);
        try (MemoryScope _ = MemoryScope.open()) {
            // one token at position 2 (start 2), one head: pairs use θ_0 = 1 and θ_1 = 100^(-1/2) = 0.1
            double[] x = {1, 2, 3, 4};
            Var vi = F.rope(new Var(Tensor.of(x, 1, 1, 4)), inter, 2);
            double a0 = 2 * 1.0, a1 = 2 * 0.1;
            double[] expectI = {1 * Math.cos(a0) - 2 * Math.sin(a0), 1 * Math.sin(a0) + 2 * Math.cos(a0),
                                3 * Math.cos(a1) - 4 * Math.sin(a1), 3 * Math.sin(a1) + 4 * Math.cos(a1)};
            assertArrayEquals(expectI, vi.data().toDoubleArray(), 1e-12);
            Var vh = F.rope(new Var(Tensor.of(x, 1, 1, 4)), half, 2);
            double[] expectH = {1 * Math.cos(a0) - 3 * Math.sin(a0), 2 * Math.cos(a1) - 4 * Math.sin(a1),
                                1 * Math.sin(a0) + 3 * Math.cos(a0), 2 * Math.sin(a1) + 4 * Math.cos(a1)};
            assertArrayEquals(expectH, vh.data().toDoubleArray(), 1e-12);
            assertThrows(IllegalArgumentException.class, () -> F.rope(new Var(Tensor.of(x, 1, 1, 4)), half, 8));
        }
    }

    @Test
    void attentionReadsStridedViewsInPlace() {
        // a KV cache [B, Tmax, Hkv, d] narrowed to the filled prefix, and q from a [B, H, T, d] layout
        Rng rng = new Rng(31);
        try (MemoryScope _ = MemoryScope.open()) {
            Tensor cacheK = Tensor.normal(DType.F32, rng, 0, 1, 2, 10, 2, 8), cacheV = Tensor.normal(DType.F32, rng, 0, 1, 2, 10, 2, 8);
            Tensor qBhtd = Tensor.normal(DType.F32, rng, 0, 1, 2, 4, 3, 8);
            Var q1 = Var.param(qBhtd.permute(0, 2, 1, 3)), k1 = Var.param(cacheK.narrow(1, 0, 6)), v1 = Var.param(cacheV.narrow(1, 0, 6));
            assertFalse(k1.data().isContiguous());
            Var q2 = Var.param(q1.data().copy()), k2 = Var.param(k1.data().copy()), v2 = Var.param(v1.data().copy());
            Var y1 = F.causalAttention(q1, k1, v1), y2 = F.causalAttention(q2, k2, v2);
            assertArrayEquals(y2.data().toFloatArray(), y1.data().toFloatArray());
            Tensor g = Tensor.normal(DType.F32, rng, 0, 1, y1.shape());
            y1.backward(g);
            y2.backward(g);
            assertArrayEquals(q2.grad().toFloatArray(), q1.grad().toFloatArray());
            assertArrayEquals(k2.grad().toFloatArray(), k1.grad().toFloatArray());
            assertArrayEquals(v2.grad().toFloatArray(), v1.grad().toFloatArray());
            for (Var v : new Var[] {q1, k1, v1, q2, k2, v2}) v.zeroGrad();
        }
    }

    @Test
    void float32AnglesFollowTheReferenceRounding() {
        RopeTable exact = new RopeTable(64, 512, 10000, RopeTable.Layout.HALF);
        RopeTable f32 = RopeTable.float32Angles(64, 512, 10000, RopeTable.Layout.HALF);
        double maxDiff = 0;
        for (int p = 0; p < 512; p += 37)
            for (int i = 0; i < 32; i++) {
                float freq = (float) Math.pow(10000, -2.0 * i / 64);
                float angle = (float) p * freq; // float multiply, as in llama2.c and HF
                assertEquals(Math.cos(angle), f32.cos(p, i), 0.0);
                assertEquals(Math.sin(angle), f32.sin(p, i), 0.0);
                maxDiff = Math.max(maxDiff, Math.abs(exact.cos(p, i) - f32.cos(p, i)));
            }
        assertTrue(maxDiff > 1e-6 && maxDiff < 1e-4, "float angles differ from exact ones by float rounding only: " + maxDiff);
    }

    @Test
    void attentionRejectsBadShapes() {
        try (MemoryScope _ = MemoryScope.open()) {
            Var q = new Var(n(1, 1, 3, 3, 4)), k = new Var(n(2, 1, 3, 2, 4));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> F.causalAttention(q, k, k));
            assertTrue(e.getMessage().contains("[1, 3, 3, 4]") && e.getMessage().contains("[1, 3, 2, 4]"), e.getMessage());
        }
    }
}
