package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** HF normalizers and pre-tokenizers on small exact cases (behaviours as documented for the HF tokenizers library). */
@ExtendWith(NoLeaks.class)
class HfTextStepsTest {
    static List<String> split(String regex, String s, String behavior) {
        List<String> out = new ArrayList<>();
        HfTextSteps.split(Pattern.compile(regex), s, behavior, out);
        return out;
    }

    @Test
    void splitBehaviours() {
        // HF's own doc example: "the-final--countdown" split on "-"
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), split("-", "the-final--countdown", "Isolated"));
        assertEquals(List.of("the", "final", "countdown"), split("-", "the-final--countdown", "Removed"));
        assertEquals(List.of("the-", "final-", "-", "countdown"), split("-", "the-final--countdown", "MergedWithPrevious"));
        assertEquals(List.of("the", "-final", "-", "-countdown"), split("-", "the-final--countdown", "MergedWithNext"));
        assertEquals(List.of("▁", "▁two", "▁x"), split("▁", "▁▁two▁x", "MergedWithNext"));
        assertEquals(List.of(), split("-", "", "Isolated"));
    }

    @Test
    void normalizers() {
        HfTextSteps.TextNormalizer n = HfTextSteps.normalizer(Map.of("type", "Sequence", "normalizers", List.of(
                Map.of("type", "Prepend", "prepend", "▁"), Map.of("type", "Replace", "pattern", Map.of("String", " "), "content", "▁"))), "t");
        assertEquals("▁Hello▁▁world", n.apply("Hello  world"));
        assertEquals("", n.apply(""), "Prepend leaves an empty string empty");
        assertEquals("é", HfTextSteps.normalizer(Map.of("type", "NFC"), "t").apply("e\u0301"));
        assertEquals("fi", HfTextSteps.normalizer(Map.of("type", "NFKC"), "t").apply("\uFB01"));
        assertEquals("abc", HfTextSteps.normalizer(null, "t").apply("abc"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTextSteps.normalizer(
                Map.of("type", "Replace", "pattern", Map.of("Regex", "\\s+"), "content", " "), "t.json"));
        assertTrue(e.getMessage().startsWith("t.json: Replace normalizer pattern must be {\"String\": ...}"), e.getMessage());
    }

    @Test
    void metaspace() {
        HfTextSteps.PreTokenizer always = HfTextSteps.preTokenizer(Map.of("type", "Metaspace", "replacement", "▁", "prepend_scheme", "always", "split", true), "t");
        assertEquals(List.of("▁Hello", "▁world"), always.apply(List.of("Hello world"), false));
        HfTextSteps.PreTokenizer first = HfTextSteps.preTokenizer(Map.of("type", "Metaspace", "replacement", "▁", "prepend_scheme", "first", "split", false), "t");
        assertEquals(List.of("▁Hello▁world"), first.apply(List.of("Hello world"), true));
        assertEquals(List.of("Hello▁world"), first.apply(List.of("Hello world"), false));
        // legacy files say add_prefix_space instead of prepend_scheme
        HfTextSteps.PreTokenizer legacy = HfTextSteps.preTokenizer(Map.of("type", "Metaspace", "replacement", "▁", "add_prefix_space", false), "t");
        assertEquals(List.of("a", "▁b"), legacy.apply(List.of("a b"), true));
    }

    @Test
    void byteLevelPreTokenizer() {
        HfTextSteps.PreTokenizer bl = HfTextSteps.preTokenizer(Map.of("type", "ByteLevel", "add_prefix_space", true, "use_regex", true), "t");
        assertEquals(List.of("ĠHello", "Ġworld", "!"), bl.apply(List.of("Hello world!"), true));
        HfTextSteps.PreTokenizer noRegex = HfTextSteps.preTokenizer(Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", false), "t");
        assertEquals(List.of("HelloĠworld!"), noRegex.apply(List.of("Hello world!"), true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfTextSteps.preTokenizer(Map.of("type", "Whitespace"), "t.json"));
        assertEquals("t.json: pre_tokenizer type \"Whitespace\" is not supported", e.getMessage());
    }
}
