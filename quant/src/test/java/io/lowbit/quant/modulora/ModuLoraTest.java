package io.lowbit.quant.modulora;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.GradCheck;
import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.kernels.TiledMatmul;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.nn.QuantLinear;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(NoLeaks.class)
class ModuLoraTest {
    /** A tiny MLP with LLaMA projection names: y = down_proj(silu(gate_proj(x)) ⊙ up_proj(x)). */
    static final class TinyMlp extends Layer {
        private Layer gate, up, down; // non-final and typed Layer: ModuLora swaps them
        TinyMlp(int d, int h, Rng rng) {
            gate = registerModule("gate_proj", new Linear(d, h, false, rng));
            up = registerModule("up_proj", new Linear(d, h, false, rng));
            down = registerModule("down_proj", new Linear(h, d, false, rng));
        }

        @Override
        public Var forward(Var x) {
            return down.forward(F.swiglu(gate.forward(x), up.forward(x)));
        }
    }

    /** Fine-tunes the adapters of a quantized TinyMlp towards a perturbed teacher; returns {first, last} loss. */
    private static double[] finetune(Supplier<Quantizer> quantizer) {
        int d = 32, h = 64, n = 64;
        try (TinyMlp student = new TinyMlp(d, h, new Rng(1)); TinyMlp teacher = new TinyMlp(d, h, new Rng(1));
             Tensor x = Tensor.normal(DType.F32, new Rng(5), 0, 1, n, d); Tensor calib = Tensor.normal(DType.F32, new Rng(6), 0, 1, 128, d)) {
            // the task: the teacher is the same network with a low-rank change of its down projection
            try (Tensor u = Tensor.normal(DType.F32, new Rng(7), 0, 0.3, d, 2); Tensor v = Tensor.normal(DType.F32, new Rng(8), 0, 0.3, 2, h);
                 Tensor uv = u.matmul(v)) {
                ((Linear) teacher.get("down_proj")).weight().data().addInPlace(uv);
            }
            Tensor target;
            try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
                target = s.keep(teacher.forward(new Var(x)).data().copy());
            }
            LoraConfig cfg = new LoraConfig(4, 8, 0.0, LoraConfig.LLAMA_TARGETS);
            List<String> swapped = ModuLora.apply(student, quantizer, cfg, new Rng(9), () -> {
                try (MemoryScope s = MemoryScope.open()) {
                    student.forward(new Var(calib)); // the quantizer sees the inputs through its observer
                }
            });
            assertEquals(List.of("gate_proj", "up_proj", "down_proj"), swapped);
            Map<String, Parameter> params = student.namedParameters();
            assertEquals(6, params.size(), "only adapters are parameters: " + params.keySet());
            for (var e : params.entrySet()) {
                assertTrue(e.getKey().endsWith("lora_A") || e.getKey().endsWith("lora_B"), e.getKey());
                assertEquals(MemoryCategory.ADAPTERS, e.getValue().data().category(), e.getKey());
            }
            double first = 0, last = 0;
            try (AdamW opt = new AdamW(student.parameters(), 1e-2, 0.9, 0.999, 1e-8, 0.0)) {
                for (int step = 0; step < 80; step++) {
                    try (MemoryScope s = MemoryScope.open()) {
                        Var loss = F.mseLoss(student.forward(new Var(x)), new Var(target));
                        double l = loss.item();
                        if (step == 0) first = l;
                        last = l;
                        loss.backward();
                        opt.step();
                        opt.zeroGrad();
                    }
                }
            }
            target.close();
            return new double[] {first, last};
        }
    }

    @Test
    void adaptersTrainOverRtnNf4AndGptqBasesWithOneArgumentChanged() {
        Map<String, Supplier<Quantizer>> methods = new java.util.LinkedHashMap<>();
        methods.put("RTN 3-bit g32", () -> new AffineQuantizer(AffineSpec.perGroup(3, false, 32)));
        methods.put("QLoRA NF4", Nf4Quantizer::new);
        methods.put("GPTQ 3-bit", () -> new Gptq(Gptq.Config.defaults(3)));
        for (var m : methods.entrySet()) {
            double[] r = finetune(m.getValue());
            System.out.printf("ModuLoRA over %s: MSE %.5f -> %.5f%n", m.getKey(), r[0], r[1]);
            assertTrue(r[1] < 0.3 * r[0], m.getKey() + ": loss did not fall enough: " + r[0] + " -> " + r[1]);
        }
    }

    @Test
    void gptqWithoutCalibrationIsAClearError() {
        try (TinyMlp m = new TinyMlp(8, 16, new Rng(1))) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> ModuLora.apply(m, () -> new Gptq(Gptq.Config.defaults(4)), LoraConfig.defaults(), new Rng(2), null));
            assertTrue(e.getMessage().contains("gptq"), e.getMessage());
        }
    }

    @Test
    void adapterGradientsMatchFiniteDifferences() {
        try (Tensor w = Tensor.normal(DType.F32, new Rng(3), 0, 0.2, 9, 13)) {
            ModuLoraLinear layer = new ModuLoraLinear(new QuantLinear(new AffineQuantizer(AffineSpec.perChannel(4, false)).quantize(w)),
                    new LoraConfig(3, 6, 0.0, LoraConfig.LLAMA_TARGETS), new Rng(4), DType.F64);
            try (layer; Tensor b = Tensor.normal(DType.F64, new Rng(5), 0, 0.5, 9, 3); Var x = new Var(Tensor.normal(DType.F64, new Rng(6), 0, 1, 5, 13))) {
                layer.loraB().data().copyFrom(b); // B = 0 at init would make dL/dA vanish; test a trained state
                try (Tensor wts = Tensor.normal(DType.F64, new Rng(7), 0, 1, 5, 9); MemoryScope s = MemoryScope.open()) {
                    Var weights = new Var(wts);
                    GradCheck.assertGradients(in -> F.sum(F.mul(layer.forward(x), weights)), layer.loraA(), layer.loraB());
                }
                // B zero-init: the fresh layer equals its quantized base
                try (ModuLoraLinear fresh = new ModuLoraLinear(new QuantLinear(new AffineQuantizer(AffineSpec.perChannel(4, false)).quantize(w)),
                        LoraConfig.defaults(), new Rng(4)); Var xf = new Var(Tensor.normal(DType.F32, new Rng(8), 0, 1, 5, 13));
                     GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
                    assertArrayEquals(fresh.base().forward(xf).data().toFloatArray(), fresh.forward(xf).data().toFloatArray());
                }
            }
        }
    }

    @Test
    void backwardSavesNoDenseWeightAndGivesTheBaseNoGradient() {
        int out = 1024, in = 512;
        long dense = 4L * out * in;
        try (Tensor w = Tensor.normal(DType.F32, new Rng(3), 0, 0.05, out, in)) {
            ModuLoraLinear layer = new ModuLoraLinear(new QuantLinear(new Nf4Quantizer().quantize(w)), LoraConfig.defaults(), new Rng(4));
            try (layer; Var x = new Var(Tensor.normal(DType.F32, new Rng(6), 0, 1, 8, in), true)) {
                w.close();
                long weightsBefore = Allocator.liveBytes(MemoryCategory.WEIGHTS);
                Allocator.resetPeak();
                long start = Allocator.liveBytes();
                try (MemoryScope s = MemoryScope.open()) {
                    Var y = layer.forward(x);
                    long afterForward = Allocator.liveBytes() - start;
                    assertTrue(afterForward < dense / 8, "forward keeps " + afterForward + " bytes alive; the dense weight is " + dense);
                    Var loss = F.sum(y);
                    loss.backward();
                }
                long peak = Allocator.peakBytes() - start;
                long scratch = Allocator.peakBytes(MemoryCategory.SCRATCH);
                System.out.printf("ModuLoRA [%d, %d] NF4: peak extra %d bytes over forward+backward (dense weight %d), scratch peak %d%n", out, in, peak, dense, scratch);
                assertTrue(peak < dense / 2, "forward+backward peaked at " + peak + " extra bytes; a dense weight is " + dense);
                assertTrue(scratch <= 4L * TiledMatmul.TILE_FLOATS * Runtime.getRuntime().availableProcessors(), "scratch peak " + scratch);
                assertEquals(weightsBefore, Allocator.peakBytes(MemoryCategory.WEIGHTS), "no dense weight was allocated in forward or backward");
                assertNotNull(layer.loraA().grad(), "adapter A gets a gradient");
                assertNotNull(x.grad(), "the input gets a gradient through the quantized base");
                assertTrue(layer.base().parameters().isEmpty(), "the quantized base has no parameters, hence no gradient");
                layer.zeroGrad();
                x.zeroGrad();
            }
        }
    }

    /** A quantized (RTN 4-bit per channel) or a float base over a random w [out, in]; adapters of {@code dtype}, B random. */
    private static ModuLoraLinear layer(boolean quantized, DType dtype, double dropout, int out, int in, int r) {
        try (Tensor w = Tensor.normal(DType.F32, new Rng(3), 0, 0.2, out, in); MemoryScope s = MemoryScope.open()) {
            LoraConfig cfg = new LoraConfig(r, 2.0 * r * 0.75, dropout, LoraConfig.LLAMA_TARGETS); // α/r = 1.5 (not a power of two)
            ModuLoraLinear l;
            if (quantized) {
                l = new ModuLoraLinear(new QuantLinear(new AffineQuantizer(AffineSpec.perChannel(4, false)).quantize(w)), cfg, new Rng(4), dtype);
            } else {
                Linear base = new Linear(in, out, false, new Rng(4), dtype);
                base.weight().data().copyFrom(w.to(dtype));
                l = new ModuLoraLinear(base, cfg, new Rng(4));
            }
            l.loraB().data().copyFrom(Tensor.normal(dtype, new Rng(5), 0, 0.5, out, r)); // B = 0 would make dL/dA vanish
            return l;
        }
    }

    @Test
    void inputAndAdapterGradientsMatchFiniteDifferencesOverAFloatBase() {
        try (ModuLoraLinear l = layer(false, DType.F64, 0.0, 9, 13, 3); Var x = new Var(Tensor.normal(DType.F64, new Rng(6), 0, 1, 2, 5, 13), true);
             Tensor wts = Tensor.normal(DType.F64, new Rng(7), 0, 1, 2, 5, 9); MemoryScope s = MemoryScope.open()) {
            Var weights = new Var(wts);
            GradCheck.assertGradients(in -> F.sum(F.mul(l.forward(in[0]), weights)), x, l.loraA(), l.loraB());
            x.zeroGrad();
            l.zeroGrad();
        }
    }

    @Test
    void inputAndAdapterGradientsMatchFiniteDifferencesOverAQuantizedBase() {
        // the quantized base multiplies in F32 (x is rounded to F32 on its way in): the loss is linear in x, so a
        // large step h = 1e-2 loses nothing to curvature and F32 rounding stays ~1e-6 of a derivative
        try (ModuLoraLinear l = layer(true, DType.F64, 0.0, 9, 13, 3); Var x = new Var(Tensor.normal(DType.F64, new Rng(6), 0, 1, 5, 13), true);
             Tensor wts = Tensor.normal(DType.F64, new Rng(7), 0, 1, 5, 9); MemoryScope s = MemoryScope.open()) {
            Var weights = new Var(wts);
            GradCheck.assertGradients(in -> F.sum(F.mul(l.forward(in[0]), weights)), 1e-2, 1e-4, 1e-4, x, l.loraA(), l.loraB());
            x.zeroGrad();
            l.zeroGrad();
        }
    }

    /** The pre-fusion graph: base, dropout (from {@code rng}), linear, mul, linear, add as separate nodes. */
    private static Var composed(ModuLoraLinear l, Var x, double p, Rng rng) {
        Var h = F.dropout(x, p, rng, true);
        return F.add(l.base().forward(x), F.linear(F.mul(F.linear(h, l.loraA()), l.scale()), l.loraB()));
    }

    @Test
    void fusedNodeEqualsTheComposedGraphBitForBitWithDropout() {
        for (boolean quantized : new boolean[] {true, false}) {
            try (ModuLoraLinear l = layer(quantized, DType.F32, 0.25, 24, 16, 4); Var x = new Var(Tensor.normal(DType.F32, new Rng(6), 0, 1, 3, 10, 16), true);
                 Tensor wts = Tensor.normal(DType.F32, new Rng(7), 0, 1, 3, 10, 24)) {
                Rng ref = new Rng(0);
                for (int step = 0; step < 2; step++) { // two steps: the second draws from where the first left the stream
                    ref.seek(0);
                    long p0 = l.dropoutRng().position();
                    float[] y0, gx0, ga0, gb0;
                    try (MemoryScope s = MemoryScope.open()) {
                        Rng stream = l.dropoutRng();
                        Var y = composed(l, x, 0.25, stream);
                        y0 = y.data().toFloatArray();
                        F.sum(F.mul(y, new Var(wts))).backward();
                        gx0 = x.grad().toFloatArray(); ga0 = l.loraA().grad().toFloatArray(); gb0 = l.loraB().grad().toFloatArray();
                    }
                    long p1 = l.dropoutRng().position();
                    x.zeroGrad();
                    l.zeroGrad();
                    l.dropoutRng().seek(p0);
                    try (MemoryScope s = MemoryScope.open()) {
                        Var y = l.forward(x);
                        assertArrayEquals(y0, y.data().toFloatArray(), (quantized ? "quantized" : "float") + " base: forward");
                        F.sum(F.mul(y, new Var(wts))).backward();
                        assertArrayEquals(gx0, x.grad().toFloatArray(), "dx");
                        assertArrayEquals(ga0, l.loraA().grad().toFloatArray(), "dA");
                        assertArrayEquals(gb0, l.loraB().grad().toFloatArray(), "dB");
                    }
                    assertEquals(p1, l.dropoutRng().position(), "the dropout stream advances as before");
                    assertEquals(p0 + x.data().numel(), p1);
                    x.zeroGrad();
                    l.zeroGrad();
                }
                // evaluation mode draws nothing and applies no mask
                l.eval();
                long p = l.dropoutRng().position();
                try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
                    Var plain = F.add(l.base().forward(x), F.linear(F.mul(F.linear(x, l.loraA()), l.scale()), l.loraB()));
                    assertArrayEquals(plain.data().toFloatArray(), l.forward(x).data().toFloatArray());
                }
                assertEquals(p, l.dropoutRng().position());
            }
        }
    }

    @Test
    void forwardKeepsOnlyTheOutputAndTheRankRProjection() {
        // activation memory of one training forward: y [n, out] plus us = (α/r)·dropout(x)·Aᵀ [n, r]; x is the
        // caller's and the dropout mask is regenerated. The composed graph kept the base output, dropout(x),
        // x·Aᵀ, its scaled copy, the B·A product and the sum.
        int n = 32, in = 24, out = 40, r = 4;
        for (boolean quantized : new boolean[] {true, false}) {
            try (ModuLoraLinear l = layer(quantized, DType.F32, 0.1, out, in, r); Tensor xt = Tensor.normal(DType.F32, new Rng(6), 0, 1, n, in)) {
                try (MemoryScope s = MemoryScope.open()) {
                    long before = Allocator.liveBytes(MemoryCategory.ACTIVATIONS);
                    Var y = l.forward(Var.of(xt));
                    long kept = Allocator.liveBytes(MemoryCategory.ACTIVATIONS) - before;
                    assertEquals((long) n * (out + r) * Float.BYTES, kept, (quantized ? "quantized" : "float") + " base: bytes alive after forward");
                    y.sum().backwardAndRelease();
                    assertNotNull(l.loraA().grad());
                    l.zeroGrad();
                }
            }
        }
    }
}
