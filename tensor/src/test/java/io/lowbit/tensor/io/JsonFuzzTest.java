package io.lowbit.tensor.io;

import static org.junit.jupiter.api.Assertions.*;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Combinators;

/**
 * Property-based fuzzing of the JSON reader (seeded, bounded tries): any input either parses or fails
 * with a {@link Json.JsonException} — never another exception, a hang or a stack overflow — and whatever
 * we write parses back to the same value.
 */
class JsonFuzzTest {
    private static final String VALID = "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"], \"b\": {\"c\": {}}, \"d\": []}";

    @Provide
    Arbitrary<String> mutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, VALID.length() - 1);
        Arbitrary<Character> ch = Arbitraries.of('{', '}', '[', ']', '"', '\\', ',', ':', '-', 'e', '.', '0', '9', 'u', 't', 'n', ' ', '\u0001');
        return Combinators.combine(pos, ch, Arbitraries.integers().between(0, 2)).as((p, c, kind) -> switch (kind) {
            case 0 -> VALID.substring(0, p) + c + VALID.substring(p + 1); // replace
            case 1 -> VALID.substring(0, p) + c + VALID.substring(p); // insert
            default -> VALID.substring(0, p); // truncate
        });
    }

    @Property(tries = 3000, seed = "20261123")
    void mutatedDocumentsParseOrFailCleanly(@ForAll("mutated") String text) {
        try {
            Json.parse(text, "fuzz");
        } catch (Json.JsonException e) {
            assertTrue(e.getMessage().startsWith("fuzz: invalid JSON at offset "), e.getMessage());
        }
    }

    @Property(tries = 2000, seed = "20261123")
    void arbitraryStringsParseOrFailCleanly(@ForAll String text) {
        try {
            Json.parse(text, "fuzz");
        } catch (Json.JsonException e) {
            assertTrue(e.getMessage().contains("offset"), e.getMessage());
        }
    }

    @Property(tries = 1000, seed = "20261123")
    void writtenStringsRoundTrip(@ForAll String s, @ForAll long n) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put(s, java.util.List.of(s, n));
        assertEquals(m, Json.parse(Json.write(m), "rt"));
    }
}
