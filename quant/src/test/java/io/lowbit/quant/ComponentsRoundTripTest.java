package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** components() + quantizationConfig() -> bytes -> fromComponents() is bit-exact for every format. */
@ExtendWith(NoLeaks.class)
class ComponentsRoundTripTest {
    @Test
    void everyFormatRebuildsBitExactly() {
        try (Tensor w = Fixtures.weight(31, 9, 75)) {
            for (var f : KernelsTest.formats().entrySet()) {
                List<Tensor> copies = new ArrayList<>();
                try (QuantizedTensor q = f.getValue().apply(w)) {
                    // what a checkpoint writer/reader does: raw bytes, dtype and shape per component, plus string fields
                    Map<String, Tensor> read = new LinkedHashMap<>();
                    for (var c : q.components().entrySet()) {
                        Tensor t = Fixtures.fromBytes(Fixtures.bytes(c.getValue()), c.getValue().dtype(), c.getValue().shape());
                        copies.add(t);
                        read.put(c.getKey(), t);
                    }
                    Map<String, String> config = new HashMap<>(q.quantizationConfig());
                    try (QuantizedTensor back = QuantizedTensor.fromComponents(read, config)) {
                        assertEquals(q.getClass(), back.getClass(), f.getKey());
                        assertEquals(q.quantizationConfig(), back.quantizationConfig(), f.getKey());
                        assertEquals(q.components().keySet(), back.components().keySet(), f.getKey());
                        for (String k : q.components().keySet()) {
                            assertEquals(q.components().get(k).dtype(), back.components().get(k).dtype(), f.getKey() + " " + k);
                            assertArrayEquals(q.components().get(k).shape(), back.components().get(k).shape(), f.getKey() + " " + k);
                            assertArrayEquals(Fixtures.bytes(q.components().get(k)), Fixtures.bytes(back.components().get(k)), f.getKey() + " " + k);
                        }
                        assertArrayEquals(Fixtures.dense(q), Fixtures.dense(back), f.getKey());
                        assertEquals(q.bytes(), back.bytes());
                        float[] x = Fixtures.gaussian(1, 75), y1 = new float[9], y2 = new float[9];
                        q.gemv(x, y1);
                        back.gemv(x, y2);
                        assertArrayEquals(y1, y2, f.getKey());
                    }
                } finally {
                    copies.forEach(Tensor::close);
                }
            }
        }
    }

    @Test
    void expectedNamesAndConfig() {
        try (Tensor w = Fixtures.weight(32, 4, 64);
             QuantizedTensor gptq = KernelsTest.formats().get("gptq3-g32-actorder").apply(w);
             QuantizedTensor nf4 = KernelsTest.formats().get("nf4-dq").apply(w)) {
            assertEquals(List.of("qweight", "scales", "zeros", "g_idx"), List.copyOf(gptq.components().keySet()));
            assertEquals("gptq", gptq.quantizationConfig().get("quant_method"));
            assertEquals("3", gptq.quantizationConfig().get("bits"));
            assertEquals("32", gptq.quantizationConfig().get("group_size"));
            assertEquals("true", gptq.quantizationConfig().get("desc_act"));
            assertEquals(List.of("qweight", "absmax_q", "absmax_scale", "absmax_mean"), List.copyOf(nf4.components().keySet()));
            assertEquals("64", nf4.quantizationConfig().get("blocksize"));
            assertEquals("true", nf4.quantizationConfig().get("double_quant"));
        }
    }

    @Test
    void badComponentsAreRejectedWithoutLeaking() {
        try (Tensor w = Fixtures.weight(33, 4, 64); QuantizedTensor q = KernelsTest.formats().get("gptq3-g32-actorder").apply(w)) {
            Map<String, Tensor> missing = new HashMap<>(q.components());
            missing.remove("scales");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.fromComponents(missing, q.quantizationConfig()));
            assertTrue(e.getMessage().contains("scales"), e.getMessage());

            try (Tensor wrong = Tensor.zeros(DType.F32, 3)) {
                Map<String, Tensor> bad = new HashMap<>(q.components());
                bad.put("scales", wrong);
                e = assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.fromComponents(bad, q.quantizationConfig()));
                assertTrue(e.getMessage().contains("scales") && e.getMessage().contains("[3]"), e.getMessage());
            }
            try (Tensor gi = Tensor.full(DType.I32, 7, 64)) { // group 7 does not exist
                Map<String, Tensor> bad = new HashMap<>(q.components());
                bad.put("g_idx", gi);
                e = assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.fromComponents(bad, q.quantizationConfig()));
                assertTrue(e.getMessage().contains("g_idx"), e.getMessage());
            }
            Map<String, String> cfg = new HashMap<>(q.quantizationConfig());
            cfg.put("bits", "five");
            assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.fromComponents(q.components(), cfg));
            cfg.remove("format");
            assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.fromComponents(q.components(), cfg));
        }
    }
}
