package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.tensor.io.Json;
import org.junit.jupiter.api.Test;

/** Hand-written broken {@code tokenizer.json} documents: each fails with an IllegalArgumentException naming the source and the field. */
class TokenizerJsonHostileTest {
    static final String PRE = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
            + "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",";

    static void fails(String json, String... mustContain) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfBpeTokenizer.fromJson(Json.parseObject(json, "evil.json"), null, "evil.json"));
        assertTrue(e.getMessage().startsWith("evil.json"), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
    }

    @Test
    void validMinimalParses() {
        HfBpeTokenizer t = HfBpeTokenizer.fromJson(Json.parseObject(PRE + "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}", "ok.json"), null, "ok.json");
        assertArrayEquals(new int[]{2}, t.encode("ab", false, false));
    }

    @Test
    void missingVocabOrModel() {
        fails(PRE + "\"merges\":[]}}", "vocab");
        fails("{\"pre_tokenizer\":null}", "model");
    }

    @Test
    void wrongTypes() {
        fails(PRE + "\"vocab\":[\"a\"],\"merges\":[]}}", "vocab");
        fails(PRE + "\"vocab\":{\"a\":\"zero\"},\"merges\":[]}}", "\"a\"");
        fails(PRE + "\"vocab\":{\"a\":-1},\"merges\":[]}}", "-1");
        fails(PRE + "\"vocab\":{\"a\":0},\"merges\":{}}}", "merges");
        fails(PRE + "\"vocab\":{\"a\":0},\"merges\":[7]}}", "merge");
    }

    @Test
    void brokenMerges() {
        fails(PRE + "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a\"]}}", "merge", "\"a\"");
        fails(PRE + "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a c\"]}}", "merge", "c");
        fails(PRE + "\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", "merge", "ab");
    }

    @Test
    void duplicateOrHugeIds() {
        fails(PRE + "\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}", "0");
        fails(PRE + "\"vocab\":{\"a\":0,\"b\":99999999999},\"merges\":[]}}", "99999999999");
    }

    @Test
    void unsupportedModelType() {
        fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", "WordPiece");
    }
}
