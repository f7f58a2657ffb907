package io.lowbit.models.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The normalizer and pre-tokenizer of a Hugging Face {@code tokenizer.json}, turned into functions.
 * Supported: normalizers Sequence, Prepend, Replace (string pattern), NFC/NFD/NFKC/NFKD, Lowercase;
 * pre-tokenizers Sequence, ByteLevel, Split (Isolated/Removed/MergedWithPrevious/MergedWithNext),
 * Metaspace. Anything else is refused with an error naming the type, never silently ignored.
 */
final class HfTextSteps {
    private HfTextSteps() {
    }

    /** Text to text, applied to each stretch of input between added tokens. */
    interface TextNormalizer {
        String apply(String s);
    }

    /** Pieces to finer pieces; {@code atStart} is true for the stretch that begins the input. */
    interface PreTokenizer {
        List<String> apply(List<String> pieces, boolean atStart);
    }

    // ------------------------------------------------------------------ normalizers

    static TextNormalizer normalizer(Object spec, String source) {
        if (spec == null) return s -> s;
        Map<String, Object> m = asMap(spec, "normalizer", source);
        String type = typeOf(m, "normalizer", source);
        return switch (type) {
            case "Sequence" -> {
                List<TextNormalizer> steps = new ArrayList<>();
                for (Object o : asList(m.get("normalizers"), "normalizer Sequence.normalizers", source)) steps.add(normalizer(o, source));
                yield s -> {
                    for (TextNormalizer n : steps) s = n.apply(s);
                    return s;
                };
            }
            case "Prepend" -> {
                String p = string(m, "prepend", "Prepend normalizer", source);
                yield s -> s.isEmpty() ? s : p + s;
            }
            case "Replace" -> {
                String pat = stringPattern(m.get("pattern"), "Replace normalizer", source);
                String content = string(m, "content", "Replace normalizer", source);
                yield s -> s.replace(pat, content);
            }
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFD);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "NFKD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
            case "Lowercase" -> s -> s.toLowerCase(Locale.ROOT);
            default -> throw new IllegalArgumentException(source + ": normalizer type \"" + type + "\" is not supported");
        };
    }

    // ------------------------------------------------------------------ pre-tokenizers

    static PreTokenizer preTokenizer(Object spec, String source) {
        if (spec == null) return (pieces, atStart) -> pieces;
        Map<String, Object> m = asMap(spec, "pre_tokenizer", source);
        String type = typeOf(m, "pre_tokenizer", source);
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (Object o : asList(m.get("pretokenizers"), "pre_tokenizer Sequence.pretokenizers", source)) steps.add(preTokenizer(o, source));
                yield (pieces, atStart) -> {
                    for (PreTokenizer p : steps) pieces = p.apply(pieces, atStart);
                    return pieces;
                };
            }
            case "ByteLevel" -> {
                boolean prefix = bool(m, "add_prefix_space", false);
                boolean useRegex = bool(m, "use_regex", true);
                Pattern re = ByteLevel.compile(ByteLevel.GPT2_PATTERN);
                yield (pieces, atStart) -> {
                    List<String> out = new ArrayList<>();
                    for (String p : pieces) {
                        if (prefix && !p.startsWith(" ")) p = " " + p;
                        for (String q : useRegex ? ByteLevel.split(re, p) : List.of(p)) out.add(ByteLevel.encode(q));
                    }
                    return out;
                };
            }
            case "Split" -> {
                if (bool(m, "invert", false)) throw new IllegalArgumentException(source + ": Split pre-tokenizer with invert=true is not supported");
                Object pat = m.get("pattern");
                Pattern re;
                if (pat instanceof Map<?, ?> pm && pm.get("Regex") instanceof String r) re = ByteLevel.compile(r);
                else re = Pattern.compile(Pattern.quote(stringPattern(pat, "Split pre-tokenizer", source)));
                String behavior = string(m, "behavior", "Split pre-tokenizer", source);
                if (!List.of("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext").contains(behavior))
                    throw new IllegalArgumentException(source + ": Split behavior \"" + behavior + "\" is not supported");
                yield (pieces, atStart) -> {
                    List<String> out = new ArrayList<>();
                    for (String p : pieces) split(re, p, behavior, out);
                    return out;
                };
            }
            case "Metaspace" -> {
                String rep = string(m, "replacement", "Metaspace pre-tokenizer", source);
                String scheme = m.get("prepend_scheme") instanceof String s ? s : (bool(m, "add_prefix_space", true) ? "always" : "never");
                if (!List.of("always", "first", "never").contains(scheme))
                    throw new IllegalArgumentException(source + ": Metaspace prepend_scheme \"" + scheme + "\" is not supported");
                boolean doSplit = bool(m, "split", true);
                Pattern sep = Pattern.compile(Pattern.quote(rep));
                yield (pieces, atStart) -> {
                    List<String> out = new ArrayList<>();
                    for (int i = 0; i < pieces.size(); i++) {
                        String p = pieces.get(i).replace(" ", rep);
                        boolean prepend = scheme.equals("always") || (scheme.equals("first") && atStart && i == 0);
                        if (prepend && !p.startsWith(rep)) p = rep + p;
                        if (doSplit) split(sep, p, "MergedWithNext", out);
                        else if (!p.isEmpty()) out.add(p);
                    }
                    return out;
                };
            }
            default -> throw new IllegalArgumentException(source + ": pre_tokenizer type \"" + type + "\" is not supported");
        };
    }

    /** HF's SplitDelimiterBehavior on one piece; empty pieces are dropped. */
    static void split(Pattern re, String s, String behavior, List<String> out) {
        Matcher m = re.matcher(s);
        List<int[]> spans = new ArrayList<>(); // {start, end, isMatch}
        int last = 0;
        while (m.find()) {
            if (m.end() == m.start()) continue;
            if (m.start() > last) spans.add(new int[] {last, m.start(), 0});
            spans.add(new int[] {m.start(), m.end(), 1});
            last = m.end();
        }
        if (last < s.length()) spans.add(new int[] {last, s.length(), 0});
        switch (behavior) {
            case "Isolated" -> {
                for (int[] sp : spans) out.add(s.substring(sp[0], sp[1]));
            }
            case "Removed" -> {
                for (int[] sp : spans) if (sp[2] == 0) out.add(s.substring(sp[0], sp[1]));
            }
            case "MergedWithPrevious" -> {
                int start = 0;
                for (int[] sp : spans)
                    if (sp[2] == 1) {
                        out.add(s.substring(start, sp[1]));
                        start = sp[1];
                    }
                if (start < s.length()) out.add(s.substring(start));
            }
            case "MergedWithNext" -> {
                int start = 0;
                for (int[] sp : spans)
                    if (sp[2] == 1 && sp[0] > start) {
                        out.add(s.substring(start, sp[0]));
                        start = sp[0];
                    }
                if (start < s.length()) out.add(s.substring(start));
            }
            default -> throw new IllegalStateException(behavior);
        }
    }

    // ------------------------------------------------------------------ JSON access

    @SuppressWarnings("unchecked")
    static Map<String, Object> asMap(Object o, String what, String source) {
        if (o instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new IllegalArgumentException(source + ": " + what + " must be an object, got " + o);
    }

    @SuppressWarnings("unchecked")
    static List<Object> asList(Object o, String what, String source) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw new IllegalArgumentException(source + ": " + what + " must be an array, got " + o);
    }

    static String typeOf(Map<String, Object> m, String what, String source) {
        return string(m, "type", what, source);
    }

    static String string(Map<String, Object> m, String key, String what, String source) {
        if (m.get(key) instanceof String s) return s;
        throw new IllegalArgumentException(source + ": " + what + " needs a string \"" + key + "\", got " + m.get(key));
    }

    static boolean bool(Map<String, Object> m, String key, boolean dflt) {
        return m.get(key) instanceof Boolean b ? b : dflt;
    }

    /** A {"String": "..."} pattern; regex patterns are refused here. */
    static String stringPattern(Object pat, String what, String source) {
        if (pat instanceof Map<?, ?> pm && pm.get("String") instanceof String s) return s;
        throw new IllegalArgumentException(source + ": " + what + " pattern must be {\"String\": ...}, got " + pat);
    }
}
