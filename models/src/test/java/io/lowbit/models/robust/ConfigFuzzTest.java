package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.LlamaConfig;
import io.lowbit.tensor.io.Json;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seeded, bounded fuzzing of {@code config.json} reading: a valid config is mutated as text and by rewriting
 * single keys to hostile values; {@link LlamaConfig#fromJson} must either accept it (and the result satisfies
 * the invariants the model code relies on) or throw an IllegalArgumentException naming the source.
 */
class ConfigFuzzTest {
    static final String VALID = "{\"hidden_size\":8,\"intermediate_size\":16,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
            + "\"num_hidden_layers\":1,\"vocab_size\":11,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"max_position_embeddings\":4,"
            + "\"tie_word_embeddings\":true,\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":2.0}}";
    static final List<String> KEYS = List.of("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "num_hidden_layers", "vocab_size", "rms_norm_eps", "rope_theta", "max_position_embeddings", "tie_word_embeddings",
            "rope_scaling", "head_dim", "sliding_window", "hidden_act");
    static final List<Object> VALUES = java.util.Arrays.asList(null, 0L, -1L, 1L, 3L, 7L, 2147483648L, Long.MIN_VALUE, 1e308, -0.0,
            Double.NaN, "8", true, List.of(), Map.of(), Map.of("rope_type", "llama3", "factor", 8.0),
            Map.of("rope_type", "yarn"), Map.of("factor", -1.0), (long) LlamaConfig.MAX_DIM + 1);

    static void readOrFailCleanly(Map<String, Object> m) {
        LlamaConfig c;
        try {
            c = LlamaConfig.fromJson(m, "fuzz.json");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.json"), e.getMessage());
            return;
        }
        assertTrue(c.numAttentionHeads() % c.numKeyValueHeads() == 0, c.toString());
        assertTrue(c.headDim() > 0 && c.headDim() % 2 == 0 && c.hiddenSize() <= LlamaConfig.MAX_DIM, c.toString());
        assertTrue(c.parameterCount() > 0, c.toString());
    }

    @Property(tries = 1500, seed = "20261123")
    void rewrittenKeysReadOrFailCleanly(@ForAll("keys") int key, @ForAll("values") int value) {
        Map<String, Object> m = new LinkedHashMap<>(Json.parseObject(VALID, "fuzz.json"));
        m.put(KEYS.get(key), VALUES.get(value));
        readOrFailCleanly(m);
    }

    @Provide
    Arbitrary<Integer> keys() { return Arbitraries.integers().between(0, KEYS.size() - 1); }

    @Provide
    Arbitrary<Integer> values() { return Arbitraries.integers().between(0, VALUES.size() - 1); }

    @Provide
    Arbitrary<String> textMutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, VALID.length() - 1);
        Arbitrary<Character> ch = Arbitraries.of('{', '}', '[', ']', '"', ',', ':', '-', '0', '1', '9', 'e', '.', ' ');
        return Combinators.combine(pos, ch, Arbitraries.integers().between(0, 2)).as((p, c, kind) -> switch (kind) {
            case 0 -> VALID.substring(0, p) + c + VALID.substring(p + 1);
            case 1 -> VALID.substring(0, p) + c + VALID.substring(p);
            default -> VALID.substring(0, p);
        });
    }

    @Property(tries = 1500, seed = "20261123")
    void textMutationsReadOrFailCleanly(@ForAll("textMutated") String text) {
        Map<String, Object> m;
        try {
            m = Json.parseObject(text, "fuzz.json");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.json"), e.getMessage());
            return;
        }
        readOrFailCleanly(m);
    }
}
