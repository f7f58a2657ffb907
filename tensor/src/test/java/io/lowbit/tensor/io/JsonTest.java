package io.lowbit.tensor.io;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesEveryValueKind() {
        Map<String, Object> m = Json.parseObject(
                "{\"a\": 1, \"b\": -2.5e3, \"c\": [true, false, null], \"d\": \"x\\u00e9\\n\\\"\", \"e\": {}, \"f\": 12345678901234567890}", "t");
        assertEquals(1L, m.get("a"));
        assertEquals(-2500.0, m.get("b"));
        assertEquals(java.util.Arrays.asList(true, false, null), m.get("c"));
        assertEquals("xé\n\"", m.get("d"));
        assertEquals(Map.of(), m.get("e"));
        assertEquals(1.2345678901234567e19, (Double) m.get("f"), 1e4);
        assertEquals(List.of("a", "b", "c", "d", "e", "f"), List.copyOf(m.keySet()), "key order kept");
    }

    @Test
    void nineteenDigitIntegersStayExactLongs() { // regression: found by JsonFuzzTest
        assertEquals(1000000000000000000L, Json.parse("1000000000000000000", "t"));
        assertEquals(Long.MAX_VALUE, Json.parse(Long.toString(Long.MAX_VALUE), "t"));
        assertEquals(Long.MIN_VALUE, Json.parse(Long.toString(Long.MIN_VALUE), "t"));
        assertEquals(9.3e18, (Double) Json.parse("9300000000000000000", "t"), 1e3);
    }

    @Test
    void writeThenReadRoundTrips() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("name", "q\"uo\\te\t");
        m.put("shape", List.of(3L, 4L));
        m.put("eps", 1e-6);
        m.put("one", 1.0);
        m.put("flag", true);
        m.put("none", null);
        assertEquals(m, Json.parse(Json.write(m), "w"));
        assertEquals(m, Json.parse(Json.writePretty(m), "w"));
    }

    @Test
    void errorsNameSourceAndOffset() {
        var e = assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\": [1, 2,, 3]}", "config.json"));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("offset 12"), e.getMessage());
        var dup = assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\":1,\"a\":2}", "h"));
        assertTrue(dup.getMessage().contains("duplicate key \"a\""), dup.getMessage());
        assertThrows(Json.JsonException.class, () -> Json.parse("[1] x", "h"));
        assertThrows(Json.JsonException.class, () -> Json.parse("\"abc", "h"));
        assertThrows(Json.JsonException.class, () -> Json.parse("01", "h"));
        assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\" 1}", "h"));
    }

    @Test
    void deepNestingIsRejectedNotAStackOverflow() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        var e = assertThrows(Json.JsonException.class, () -> Json.parse(deep, "deep.json"));
        assertTrue(e.getMessage().contains("nesting deeper than"), e.getMessage());
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertNotNull(Json.parse(ok, "ok"));
    }

    @Test
    void typedAccessorsNameTheKey() {
        Map<String, Object> m = Json.parseObject("{\"hidden_size\": \"big\", \"eps\": 1e-5}", "config.json");
        var e = assertThrows(IllegalArgumentException.class, () -> Json.getLong(m, "hidden_size", "config.json"));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("hidden_size"), e.getMessage());
        var missing = assertThrows(IllegalArgumentException.class, () -> Json.getLong(m, "num_hidden_layers", "config.json"));
        assertTrue(missing.getMessage().contains("is missing"), missing.getMessage());
        assertEquals(1e-5, Json.getDouble(m, "eps", "config.json"));
        assertEquals(7, Json.getLong(m, "absent", 7, "config.json"));
    }
}
