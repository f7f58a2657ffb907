package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Layer;
import io.lowbit.autograd.nn.Linear;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.models.train.TrainingMethod;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.quant.modulora.ModuLoraLinear;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The ModuLoRA/QLoRA training methods prepare a model and expose only the adapters. */
class ModuLoraTrainingTest {
    private static long live;

    @BeforeAll
    static void start() {
        live = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeak() {
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked by ModuLoraTrainingTest");
    }

    static final class Attn extends Layer {
        private Layer q, o;
        Attn(Rng rng) {
            q = registerModule("q_proj", new Linear(16, 16, false, rng));
            o = registerModule("o_proj", new Linear(16, 16, false, rng));
        }

        @Override
        public Var forward(Var x) {
            return o.forward(F.silu(q.forward(x)));
        }
    }

    static final class Net extends Layer {
        private Layer attn, head;
        Net(Rng rng) {
            attn = registerModule("self_attn", new Attn(rng));
            head = registerModule("head", new Linear(16, 4, false, rng));
        }

        @Override
        public Var forward(Var x) {
            return head.forward(attn.forward(x));
        }
    }

    @Test
    void qloraAndGptqModuLoraExposeOnlyAdapters() {
        try (Tensor calib = Tensor.normal(DType.F32, new Rng(2), 0, 1, 64, 16)) {
            List<TrainingMethod> methods = List.of(ModuLoraTraining.qlora(new LoraConfig(4, 8, 0, List.of("q_proj", "o_proj"))),
                    new ModuLoraTraining("modulora-gptq", QuantMethods.of("gptq", 3, -1, false, false), new LoraConfig(4, 8, 0, List.of("q_proj", "o_proj")),
                            m -> {
                                try (MemoryScope s = MemoryScope.open()) {
                                    ((Layer) m).forward(new Var(calib));
                                }
                            }));
            for (TrainingMethod method : methods) {
                try (Net net = new Net(new Rng(1)); method) {
                    method.prepare(net, new Rng(3));
                    assertInstanceOf(ModuLoraLinear.class, net.get("self_attn.q_proj"));
                    assertInstanceOf(ModuLoraLinear.class, net.get("self_attn.o_proj"));
                    assertInstanceOf(Linear.class, net.get("head"), "non-target linears stay");
                    List<Parameter> t = method.trainable(net);
                    assertEquals(4, t.size(), method.name());
                    assertEquals(16 * 4 + 4 * 16, t.get(0).numel() + t.get(1).numel());
                }
            }
        }
    }
}
