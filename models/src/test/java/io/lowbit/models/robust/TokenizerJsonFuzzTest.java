package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.tokenizer.BpeTrainer;
import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.tensor.io.Json;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seeded, bounded fuzzing of the {@code tokenizer.json} reader: a tiny tokenizer trained with {@link BpeTrainer}
 * is mutated as text (character replacements, insertions, truncations) and as a tree (keys removed, values
 * replaced by values of the wrong type, merges broken); loading must either succeed — and then encode and
 * decode without crashing — or throw an {@link IllegalArgumentException} naming the source.
 */
class TokenizerJsonFuzzTest {
    private static String valid;
    private static final String CORPUS = "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs. ünïcödé ☃ 12345\n";

    @BeforeContainer
    static void build() {
        valid = Json.write(new BpeTrainer(300, 1, BpeTrainer.DEFAULT_SPECIALS).train(CORPUS.repeat(4)).toJson());
    }

    @SuppressWarnings("unchecked")
    static void loadOrFailCleanly(String text) {
        HfBpeTokenizer t;
        try {
            Map<String, Object> root = Json.parseObject(text, "fuzz.json");
            t = HfBpeTokenizer.fromJson(root, null, "fuzz.json");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.json"), e.getMessage());
            return;
        }
        use(t);
    }

    static void use(HfBpeTokenizer t) {
        try {
            t.decode(t.encode(CORPUS, false, false));
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.json"), e.getMessage());
        }
    }

    @Provide
    Arbitrary<String> textMutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, valid.length() - 1);
        Arbitrary<Character> ch = Arbitraries.of('{', '}', '[', ']', '"', '\\', ',', ':', '-', '0', '9', ' ', 'a', 'Ġ');
        return Combinators.combine(pos, ch, Arbitraries.integers().between(0, 2)).as((p, c, kind) -> switch (kind) {
            case 0 -> valid.substring(0, p) + c + valid.substring(p + 1);
            case 1 -> valid.substring(0, p) + c + valid.substring(p);
            default -> valid.substring(0, p);
        });
    }

    @Property(tries = 1500, seed = "20261123")
    void textMutationsLoadOrFailCleanly(@ForAll("textMutated") String text) {
        loadOrFailCleanly(text);
    }

    private static final List<Object> HOSTILE_VALUES = java.util.Arrays.asList(null, 7L, -1L, Long.MAX_VALUE, 2.5, "x", "", true,
            List.of(), List.of("a b c"), List.of(List.of("a")), Map.of(), Map.of("a", -3L), Map.of("a", "b"));

    /** Walks to the n-th container node (pre-order) and replaces or removes one of its children. */
    @SuppressWarnings("unchecked")
    static boolean mutateTree(Object node, int[] n, int childPick, Object value, boolean remove) {
        if (!(node instanceof Map<?, ?>) && !(node instanceof List<?>)) return false;
        if (n[0]-- == 0) {
            if (node instanceof Map<?, ?> m0) {
                Map<String, Object> m = (Map<String, Object>) m0;
                if (m.isEmpty()) return true;
                String key = new ArrayList<>(m.keySet()).get(Math.floorMod(childPick, m.size()));
                if (remove) m.remove(key); else m.put(key, value);
            } else {
                List<Object> l = (List<Object>) node;
                if (l.isEmpty()) return true;
                int i = Math.floorMod(childPick, l.size());
                if (remove) l.remove(i); else l.set(i, value);
            }
            return true;
        }
        Iterable<?> kids = node instanceof Map<?, ?> m ? m.values() : (List<?>) node;
        for (Object k : kids) if (mutateTree(k, n, childPick, value, remove)) return true;
        return false;
    }

    @SuppressWarnings("unchecked")
    static Object mutableCopy(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) out.put((String) e.getKey(), mutableCopy(e.getValue()));
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (Object o : l) out.add(mutableCopy(o));
            return out;
        }
        return v;
    }

    @Property(tries = 1500, seed = "20261123")
    @SuppressWarnings("unchecked")
    void treeMutationsLoadOrFailCleanly(@ForAll("nodes") int node, @ForAll int child, @ForAll("hostile") int value, @ForAll boolean remove) {
        Map<String, Object> root = (Map<String, Object>) mutableCopy(Json.parse(valid, "fuzz.json"));
        mutateTree(root, new int[]{node}, child, HOSTILE_VALUES.get(value), remove);
        HfBpeTokenizer t;
        try {
            t = HfBpeTokenizer.fromJson(root, null, "fuzz.json");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.json"), e.getMessage());
            return;
        }
        use(t);
    }

    @Provide
    Arbitrary<Integer> nodes() { return Arbitraries.integers().between(0, 40); }

    @Provide
    Arbitrary<Integer> hostile() { return Arbitraries.integers().between(0, HOSTILE_VALUES.size() - 1); }
}
