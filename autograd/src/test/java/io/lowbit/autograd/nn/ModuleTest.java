package io.lowbit.autograd.nn;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.autograd.Var;
import io.lowbit.autograd.ops.F;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Module trees: naming, state dicts, replacement, modes, and the built-in layers. */
@ExtendWith(NoLeaks.class)
class ModuleTest {

    /** attn.{q_proj, o_proj} inside a block inside a ModuleList, like a LLaMA layer. */
    static final class Attn extends Layer {
        Layer qProj;
        final Layer oProj;

        Attn(Rng rng) {
            qProj = registerModule("q_proj", new Linear(4, 4, false, rng));
            oProj = registerModule("o_proj", new Linear(4, 4, false, rng));
        }

        @Override public Var forward(Var x) { return oProj.forward(qProj.forward(x)); }
    }

    static final class Block extends Layer {
        final Attn attn;
        final RMSNorm norm;

        Block(Rng rng) {
            norm = registerModule("norm", new RMSNorm(4, 1e-6));
            attn = registerModule("attn", new Attn(rng));
        }

        @Override public Var forward(Var x) { return attn.forward(norm.forward(x)); }
    }

    static final class Model extends Module {
        final ModuleList<Block> layers = registerModule("layers", new ModuleList<>());

        Model(int n, Rng rng) {
            for (int i = 0; i < n; i++) layers.add(new Block(rng));
        }
    }

    /** A stand-in for a quantized linear: y = 2·x. */
    static final class Doubler extends Layer {
        @Override public Var forward(Var x) { return F.mul(x, 2.0); }
    }

    @Test
    void namesFollowTheTree() {
        try (Model m = new Model(2, new Rng(1))) {
            assertEquals(List.of("layers.0.norm.weight", "layers.0.attn.q_proj.weight", "layers.0.attn.o_proj.weight",
                    "layers.1.norm.weight", "layers.1.attn.q_proj.weight", "layers.1.attn.o_proj.weight"), List.copyOf(m.namedParameters().keySet()));
            assertEquals(2 * (4 + 16 + 16), m.numParameters());
            assertSame(m.layers.get(1).attn, m.get("layers.1.attn"));
            assertTrue(m.namedModules().containsKey("layers.0.attn.q_proj"));
            assertEquals(MemoryCategory.WEIGHTS, m.parameters().get(0).data().category());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.get("layers.0.mlp"));
            assertTrue(e.getMessage().contains("'mlp'") && e.getMessage().contains("[norm, attn]"), e.getMessage());
        }
    }

    @Test
    void replaceSwapsTheChildAndTheField() {
        try (Model m = new Model(1, new Rng(2)); MemoryScope _ = MemoryScope.open()) {
            Module old = m.replace("layers.0.attn.q_proj", new Doubler());
            assertInstanceOf(Linear.class, old);
            Attn attn = m.layers.get(0).attn;
            assertInstanceOf(Doubler.class, attn.qProj, "the field was updated");
            assertFalse(m.namedParameters().containsKey("layers.0.attn.q_proj.weight"));
            Var x = new Var(Tensor.of(new float[] {1, 2, 3, 4}, 1, 4));
            Var viaModel = attn.forward(x);
            Var expected = ((Linear) m.get("layers.0.attn.o_proj")).forward(F.mul(x, 2.0));
            assertArrayEquals(expected.data().toFloatArray(), viaModel.data().toFloatArray());
            IllegalArgumentException fin = assertThrows(IllegalArgumentException.class, () -> m.replace("layers.0.attn.o_proj", new Doubler()));
            assertTrue(fin.getMessage().contains("final"), fin.getMessage());
            IllegalArgumentException type = assertThrows(IllegalArgumentException.class, () -> m.replace("layers.0.attn", new Doubler()));
            assertTrue(type.getMessage().contains("Attn"), type.getMessage());
            // a ModuleList element has no field: replacing it changes what get(i) returns
            Block fresh = new Block(new Rng(3));
            Module oldBlock = m.replace("layers.0", fresh);
            assertSame(fresh, m.layers.get(0));
            old.close();
            oldBlock.close();
        }
    }

    @Test
    void stateDictRoundTripAndClearErrors() {
        try (Model a = new Model(1, new Rng(4)); Model b = new Model(1, new Rng(5))) {
            b.loadStateDict(a.stateDict());
            for (String k : a.stateDict().keySet())
                assertArrayEquals(a.stateDict().get(k).toFloatArray(), b.stateDict().get(k).toFloatArray(), k);

            Map<String, Tensor> sd = new LinkedHashMap<>(a.stateDict());
            Tensor extra = Tensor.zeros(DType.F32, 3);
            Tensor wrong = Tensor.zeros(DType.F32, 4, 5);
            sd.remove("layers.0.norm.weight");
            sd.put("layers.0.extra", extra);
            sd.put("layers.0.attn.q_proj.weight", wrong);
            float before = b.stateDict().get("layers.0.attn.o_proj.weight").getFloat(0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(sd));
            String msg = e.getMessage();
            assertTrue(msg.contains("missing keys [layers.0.norm.weight]"), msg);
            assertTrue(msg.contains("unexpected keys [layers.0.extra]"), msg);
            assertTrue(msg.contains("layers.0.attn.q_proj.weight: checkpoint [4, 5] vs model [4, 4]"), msg);
            assertEquals(before, b.stateDict().get("layers.0.attn.o_proj.weight").getFloat(0), "nothing copied on failure");

            sd.put("layers.0.attn.q_proj.weight", a.stateDict().get("layers.0.attn.q_proj.weight"));
            Module.LoadResult r = b.loadStateDict(sd, false);
            assertEquals(List.of("layers.0.norm.weight"), r.missingKeys());
            assertEquals(List.of("layers.0.extra"), r.unexpectedKeys());
            extra.close();
            wrong.close();
        }
    }

    @Test
    void trainAndEvalReachEveryModule() {
        Rng rng = new Rng(6);
        try (Sequential s = new Sequential(new Linear(3, 3, true, rng), new Dropout(0.5, rng.fork("dropout")));
             MemoryScope _ = MemoryScope.open()) {
            Var x = new Var(Tensor.full(DType.F32, 1.0, 8, 3));
            s.eval();
            for (Module m : s.namedModules().values()) assertFalse(m.isTraining());
            Var a = s.forward(x), b = s.forward(x);
            assertArrayEquals(a.data().toFloatArray(), b.data().toFloatArray(), "eval: dropout is the identity");
            s.train(true);
            Var c = s.forward(x);
            int zeros = 0;
            for (float v : c.data().toFloatArray()) if (v == 0) zeros++;
            assertTrue(zeros > 0, "train: dropout zeroes some outputs");
        }
    }

    @Test
    void linearMatchesPyTorchLayoutAndInit() {
        Rng rng = new Rng(7);
        try (Linear big = new Linear(256, 128, true, rng); MemoryScope _ = MemoryScope.open()) {
            assertArrayEquals(new int[] {128, 256}, big.weight().shape());
            assertArrayEquals(new int[] {128}, big.bias().shape());
            double bound = 1 / Math.sqrt(256), sq = 0;
            for (float v : big.weight().data().toFloatArray()) {
                assertTrue(Math.abs(v) <= bound, "weight " + v + " outside ±" + bound);
                sq += v * v;
            }
            double std = Math.sqrt(sq / big.weight().numel());
            assertEquals(bound / Math.sqrt(3), std, 0.02 * bound, "uniform(±b) has std b/√3");
            for (float v : big.bias().data().toFloatArray()) assertTrue(Math.abs(v) <= bound);
        }
        try (Linear l = new Linear(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3), Tensor.of(new float[] {10, 20}, 2));
             MemoryScope _ = MemoryScope.open()) {
            Var y = l.forward(new Var(Tensor.of(new float[] {1, 0, -1}, 1, 3)));
            assertArrayEquals(new float[] {1 - 3 + 10, 4 - 6 + 20}, y.data().toFloatArray()); // x·Wᵀ + b
        }
    }

    @Test
    void embeddingLooksUpRows() {
        try (Embedding e = new Embedding(5, 3, new Rng(8)); MemoryScope _ = MemoryScope.open()) {
            Var out = e.forward(Tensor.of(new int[] {4, 0, 4}, 3));
            assertArrayEquals(new int[] {3, 3}, out.shape());
            for (int j = 0; j < 3; j++) {
                assertEquals(e.weight().data().get(4, j), out.data().get(0, j));
                assertEquals(e.weight().data().get(0, j), out.data().get(1, j));
            }
            F.sum(out).backward();
            assertArrayEquals(new float[] {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2}, e.weight().grad().toFloatArray());
            assertThrows(IndexOutOfBoundsException.class, () -> e.forward(Tensor.of(new int[] {5}, 1)));
        }
    }

    @Test
    void sharedParametersAppearOnce() {
        Rng rng = new Rng(9);
        final class Tied extends Module {
            Tied() {
                Parameter w = new Parameter(Tensor.zeros(DType.F32, 2, 2));
                registerModule("a", new Module() {}).registerParameter("w", w);
                registerModule("b", new Module() {}).registerParameter("w", w);
            }
        }
        try (Tied t = new Tied()) {
            assertEquals(List.of("a.w"), List.copyOf(t.namedParameters().keySet()));
        }
        assertNotNull(rng);
    }

    /** A layer that owns a tensor outside parameters and buffers (like packed weights or update temporaries). */
    static final class Holding extends Module {
        final Tensor side = MemoryScope.escape(Tensor.zeros(DType.F32, 64));
        int closes;

        @Override
        public void close() {
            super.close();
            closes++;
            side.close();
        }
    }

    @Test
    void closeRunsEveryDescendantsOwnCloseAndFreesEachTensorOnce() {
        long start = io.lowbit.tensor.Allocator.liveBytes();
        Holding deep = new Holding();
        Parameter tied = new Parameter(Tensor.zeros(DType.F32, 3, 3));
        Module root = new Module() {};
        Module mid = root.registerModule("mid", new Module() {});
        mid.registerModule("deep", deep);
        mid.registerParameter("w", tied);
        root.registerModule("other", new Module() {}).registerParameter("w", tied);
        deep.registerBuffer("buf", Tensor.zeros(DType.F32, 5));
        tied.setGrad(Tensor.zeros(DType.F32, 3, 3));
        assertTrue(io.lowbit.tensor.Allocator.liveBytes() - start >= 4 * (64 + 9 + 9 + 5));
        root.close();
        assertEquals(1, deep.closes, "a grandchild's own close() ran");
        assertEquals(start, io.lowbit.tensor.Allocator.liveBytes(), "side tensor, tied parameter, its gradient and the buffer are freed");
        root.close();
        assertEquals(2, deep.closes);
        assertEquals(start, io.lowbit.tensor.Allocator.liveBytes(), "closing twice frees nothing twice");
    }
}
