package io.lowbit.models.tokenizer;

import static io.lowbit.models.tokenizer.HfTextSteps.asList;
import static io.lowbit.models.tokenizer.HfTextSteps.asMap;
import static io.lowbit.models.tokenizer.HfTextSteps.bool;

import io.lowbit.tensor.io.Json;
import it.unimi.dsi.fastutil.longs.Long2LongOpenHashMap;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} with a BPE model: SentencePiece-style files (normalizer
 * Prepend/Replace {@code ▁}, byte_fallback; Mistral, Llama-2 HF) and byte-level files (ByteLevel
 * pre-tokenizer with the GPT-2 alphabet and regex split; GPT-2, Llama-3, our {@link BpeTrainer}).
 *
 * <p>Encoding: split the text at added tokens (matched whole, longest first), normalize and
 * pre-tokenize each stretch between them, then per word apply merges by rank (the merge's index in
 * the file) with {@link BpeMerger}; characters outside the vocabulary become {@code <0xNN>} pieces with
 * byte fallback, else the unk token.
 *
 * <p>Decoding skips special tokens (HF's {@code skip_special_tokens=True}). Known simplifications: all
 * added tokens are matched on the raw text (HF matches {@code normalized: true} ones after
 * normalization; for the files we use they are all {@code normalized: false}); unsupported normalizer,
 * pre-tokenizer, decoder or post-processor types are refused with an error naming them.
 */
public final class HfBpeTokenizer implements Tokenizer {
    private final String source;
    private final String[] idToToken;
    private final Map<String, Integer> vocab;
    private final Long2LongOpenHashMap merges = new Long2LongOpenHashMap();
    private final boolean byteFallback, fuseUnk, ignoreMerges;
    private final int unkId;
    private final int[] byteIds = new int[256];
    private final HfTextSteps.TextNormalizer normalizer;
    private final HfTextSteps.PreTokenizer preTokenizer;
    private final Map<Character, List<AddedToken>> addedByFirstChar = new HashMap<>();
    private final boolean[] special;
    private final String[] addedContent; // non-null for added tokens (decoded as their content)
    private final int bosId, eosId;
    private final boolean addBos, addEos;
    // decoder
    private final boolean decByteLevel, decByteFallback;
    private final String decReplaceFrom;
    private final int decStripStart;

    /** One entry of "added_tokens". */
    record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip, boolean singleWord) {
    }

    private HfBpeTokenizer(Map<String, Object> root, Map<String, Object> config, String source) {
        this.source = source;
        Map<String, Object> model = asMap(root.get("model"), "\"model\"", source);
        String type = model.get("type") instanceof String s ? s : (model.containsKey("merges") ? "BPE" : "?");
        if (!type.equals("BPE")) throw new IllegalArgumentException(source + ": model type \"" + type + "\" is not supported (only BPE)");
        for (String k : new String[] {"continuing_subword_prefix", "end_of_word_suffix"})
            if (model.get(k) instanceof String s && !s.isEmpty())
                throw new IllegalArgumentException(source + ": model." + k + " \"" + s + "\" is not supported");
        if (model.get("dropout") instanceof Number d && d.doubleValue() > 0)
            throw new IllegalArgumentException(source + ": BPE dropout " + d + " is not supported (encoding must be deterministic)");
        byteFallback = bool(model, "byte_fallback", false);
        fuseUnk = bool(model, "fuse_unk", false);
        ignoreMerges = bool(model, "ignore_merges", false);

        // vocabulary: model.vocab plus added_tokens
        vocab = new HashMap<>();
        int maxId = -1;
        for (Map.Entry<String, Object> e : asMap(model.get("vocab"), "model.vocab", source).entrySet()) {
            int id = idValue(e.getValue(), "model.vocab[\"" + e.getKey() + "\"]");
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        List<AddedToken> added = new ArrayList<>();
        Object at = root.get("added_tokens");
        if (at != null) {
            for (Object o : asList(at, "added_tokens", source)) {
                Map<String, Object> a = asMap(o, "added_tokens entry", source);
                int id = idValue(a.get("id"), "added_tokens id");
                String content = HfTextSteps.string(a, "content", "added_tokens entry " + id, source);
                if (content.isEmpty()) throw new IllegalArgumentException(source + ": added token " + id + " has empty content");
                added.add(new AddedToken(id, content, bool(a, "special", false), bool(a, "lstrip", false), bool(a, "rstrip", false), bool(a, "single_word", false)));
                Integer old = vocab.putIfAbsent(content, id);
                if (old != null && old != id)
                    throw new IllegalArgumentException(source + ": added token \"" + content + "\" has id " + id + " but the vocabulary says " + old);
                maxId = Math.max(maxId, id);
            }
        }
        idToToken = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (idToToken[id] != null && !idToToken[id].equals(e.getKey()))
                throw new IllegalArgumentException(source + ": id " + id + " is given to both \"" + idToToken[id] + "\" and \"" + e.getKey() + "\"");
            idToToken[id] = e.getKey();
        }
        for (int i = 0; i <= maxId; i++)
            if (idToToken[i] == null) throw new IllegalArgumentException(source + ": no token has id " + i + " (ids must be 0.." + maxId + " without gaps)");
        special = new boolean[maxId + 1];
        addedContent = new String[maxId + 1];
        for (AddedToken a : added) {
            special[a.id] = a.special;
            addedContent[a.id] = a.content;
            addedByFirstChar.computeIfAbsent(a.content.charAt(0), c -> new ArrayList<>()).add(a);
        }
        for (List<AddedToken> l : addedByFirstChar.values()) l.sort((x, y) -> Integer.compare(y.content.length(), x.content.length()));

        // merges: rank = position in the list
        List<Object> ml = asList(model.get("merges"), "model.merges", source);
        merges.defaultReturnValue(-1);
        for (int rank = 0; rank < ml.size(); rank++) {
            Object o = ml.get(rank);
            String a, b;
            if (o instanceof String s) {
                String[] parts = s.split(" ", -1);
                if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty())
                    throw new IllegalArgumentException(source + ": merge #" + rank + " \"" + s + "\" is not two tokens separated by one space");
                a = parts[0];
                b = parts[1];
            } else if (o instanceof List<?> l && l.size() == 2 && l.get(0) instanceof String x && l.get(1) instanceof String y) {
                a = x;
                b = y;
            } else throw new IllegalArgumentException(source + ": merge #" + rank + " must be \"a b\" or [a, b], got " + o);
            Integer ia = vocab.get(a), ib = vocab.get(b), ir = vocab.get(a + b);
            if (ia == null || ib == null || ir == null)
                throw new IllegalArgumentException(source + ": merge #" + rank + " (\"" + a + "\" + \"" + b + "\"): "
                        + (ia == null ? "part \"" + a + "\"" : ib == null ? "part \"" + b + "\"" : "result \"" + a + b + "\"") + " is not in the vocabulary");
            merges.put(pairKey(ia, ib), BpeMerger.pack(rank, ir));
        }

        Object unkTok = model.get("unk_token");
        if (unkTok instanceof String u) {
            Integer id = vocab.get(u);
            if (id == null) throw new IllegalArgumentException(source + ": unk_token \"" + u + "\" is not in the vocabulary");
            unkId = id;
        } else unkId = -1;
        Arrays.fill(byteIds, -1);
        for (int bt = 0; bt < 256; bt++) {
            Integer id = vocab.get("<0x" + SentencePieceTokenizer.hex(bt) + ">");
            if (id != null) byteIds[bt] = id;
        }

        normalizer = HfTextSteps.normalizer(root.get("normalizer"), source);
        preTokenizer = HfTextSteps.preTokenizer(root.get("pre_tokenizer"), source);

        // BOS / EOS: tokenizer_config.json, else the post-processor template, else conventional names
        String[] tmpl = templateSpecials(root.get("post_processor"));
        int bos = idOfConfigToken(config, "bos_token");
        int eos = idOfConfigToken(config, "eos_token");
        if (bos < 0 && tmpl[0] != null) bos = vocab.getOrDefault(tmpl[0], -1);
        if (eos < 0 && tmpl[1] != null) eos = vocab.getOrDefault(tmpl[1], -1);
        if (bos < 0) bos = firstPresent("<s>", "<|begin_of_text|>", "<|startoftext|>");
        if (eos < 0) eos = firstPresent("</s>", "<|end_of_text|>", "<|endoftext|>");
        bosId = bos;
        eosId = eos;
        addBos = config != null && config.get("add_bos_token") instanceof Boolean b ? b : tmpl[0] != null;
        addEos = config != null && config.get("add_eos_token") instanceof Boolean b ? b : tmpl[1] != null;

        // decoder chain reduced to what one token contributes
        boolean[] flags = new boolean[2];
        String[] replace = new String[1];
        int[] strip = new int[1];
        readDecoder(root.get("decoder"), flags, replace, strip);
        decByteLevel = flags[0];
        decByteFallback = flags[1];
        decReplaceFrom = replace[0];
        decStripStart = strip[0];
    }

    /** Loads a {@code tokenizer.json}; a {@code tokenizer_config.json} in the same directory supplies add_bos_token and bos/eos names. */
    public static HfBpeTokenizer load(Path file) throws IOException {
        String src = file.toString();
        Map<String, Object> root = Json.parseObject(Files.readString(file, StandardCharsets.UTF_8), src);
        Path cfg = file.resolveSibling("tokenizer_config.json");
        Map<String, Object> config = Files.isRegularFile(cfg) && !cfg.equals(file)
                ? Json.parseObject(Files.readString(cfg, StandardCharsets.UTF_8), cfg.toString()) : null;
        return new HfBpeTokenizer(root, config, src);
    }

    /** Builds a tokenizer from an already parsed {@code tokenizer.json} object (config may be null). */
    public static HfBpeTokenizer fromJson(Map<String, Object> root, Map<String, Object> config, String source) {
        return new HfBpeTokenizer(root, config, source);
    }

    // ------------------------------------------------------------------ encoding

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        if (addBos && bosId < 0) throw new IllegalArgumentException(source + ": this tokenizer has no BOS token");
        if (addEos && eosId < 0) throw new IllegalArgumentException(source + ": this tokenizer has no EOS token");
        IntList out = new IntList(text.length() + 2);
        if (addBos) out.add(bosId);
        int i = 0, stretch = 0;
        int n = text.length();
        while (i <= n) {
            AddedToken a = i < n ? matchAdded(text, i) : null;
            if (a == null && i < n) {
                i++;
                continue;
            }
            // text[stretch, i) is ordinary text; then the added token (if any)
            int endText = i;
            if (a != null && a.lstrip) while (endText > stretch && Character.isWhitespace(text.charAt(endText - 1))) endText--;
            encodeText(text.substring(stretch, endText), stretch == 0, out);
            if (a == null) break;
            out.add(a.id);
            i += a.content.length();
            if (a.rstrip) while (i < n && Character.isWhitespace(text.charAt(i))) i++;
            stretch = i;
        }
        if (addEos) out.add(eosId);
        return out.toArray();
    }

    private AddedToken matchAdded(String text, int i) {
        List<AddedToken> cands = addedByFirstChar.get(text.charAt(i));
        if (cands == null) return null;
        for (AddedToken a : cands) {
            if (!text.startsWith(a.content, i)) continue;
            if (a.singleWord) {
                int e = i + a.content.length();
                boolean before = i > 0 && Character.isLetterOrDigit(text.codePointBefore(i));
                boolean after = e < text.length() && Character.isLetterOrDigit(text.codePointAt(e));
                if (before || after) continue;
            }
            return a;
        }
        return null;
    }

    private void encodeText(String s, boolean atStart, IntList out) {
        if (s.isEmpty()) return;
        String norm = normalizer.apply(s);
        if (norm.isEmpty()) return;
        for (String word : preTokenizer.apply(List.of(norm), atStart)) encodeWord(word, out);
    }

    private void encodeWord(String word, IntList out) {
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] sym = new int[word.length() * 4];
        int n = 0;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int len = Character.charCount(cp);
            Integer id = vocab.get(word.substring(i, i + len));
            i += len;
            if (id != null) {
                sym[n++] = id;
                continue;
            }
            if (byteFallback) {
                byte[] utf8 = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : utf8) all &= byteIds[b & 0xFF] >= 0;
                if (all) {
                    for (byte b : utf8) sym[n++] = byteIds[b & 0xFF];
                    continue;
                }
            }
            if (unkId < 0)
                throw new IllegalArgumentException(source + ": character U+" + String.format("%04X", cp) + " is not in the vocabulary and the model has no unk_token");
            if (fuseUnk && n > 0 && sym[n - 1] == unkId) continue;
            sym[n++] = unkId;
        }
        n = BpeMerger.merge(sym, n, (l, r) -> merges.get(pairKey(l, r)), null);
        for (int k = 0; k < n; k++) out.add(sym[k]);
    }

    private static long pairKey(int a, int b) {
        return (long) a << 32 | (b & 0xFFFFFFFFL);
    }

    // ------------------------------------------------------------------ decoding

    @Override
    public byte[] tokenBytes(int prev, int id) {
        checkId(id);
        if (special[id]) return new byte[0];
        if (addedContent[id] != null) return addedContent[id].getBytes(StandardCharsets.UTF_8);
        String t = idToToken[id];
        byte[] b;
        int bf = decByteFallback ? SentencePieceTokenizer.parseBytePiece(t) : -1;
        if (bf >= 0) return new byte[] {(byte) bf};
        if (decByteLevel) {
            try {
                b = ByteLevel.decode(t);
            } catch (IllegalArgumentException e) {
                b = t.getBytes(StandardCharsets.UTF_8); // as HF: a token outside the alphabet decodes to its own text
            }
        } else b = (decReplaceFrom != null ? t.replace(decReplaceFrom, " ") : t).getBytes(StandardCharsets.UTF_8);
        if (decStripStart > 0 && (prev < 0 || special[prev])) {
            int k = 0;
            while (k < decStripStart && k < b.length && b[k] == ' ') k++;
            if (k > 0) b = Arrays.copyOfRange(b, k, b.length);
        }
        return b;
    }

    /** Reads the decoder chain: [0] byte-level, [1] byte fallback; the metaspace character; spaces stripped at the start. */
    private void readDecoder(Object spec, boolean[] flags, String[] replace, int[] strip) {
        if (spec == null) return;
        Map<String, Object> m = asMap(spec, "decoder", source);
        String type = HfTextSteps.typeOf(m, "decoder", source);
        switch (type) {
            case "Sequence" -> {
                for (Object o : asList(m.get("decoders"), "decoder Sequence.decoders", source)) readDecoder(o, flags, replace, strip);
            }
            case "ByteLevel" -> flags[0] = true;
            case "ByteFallback" -> flags[1] = true;
            case "Fuse" -> {
            }
            case "Replace" -> {
                String from = HfTextSteps.stringPattern(m.get("pattern"), "Replace decoder", source);
                String to = HfTextSteps.string(m, "content", "Replace decoder", source);
                if (!to.equals(" ")) throw new IllegalArgumentException(source + ": Replace decoder to \"" + to + "\" is not supported (only to a space)");
                replace[0] = from;
            }
            case "Strip" -> {
                String content = HfTextSteps.string(m, "content", "Strip decoder", source);
                if (!content.equals(" ") || Json.getLong(m, "stop", 0, source) != 0)
                    throw new IllegalArgumentException(source + ": Strip decoder other than leading spaces is not supported");
                strip[0] = (int) Json.getLong(m, "start", 0, source);
            }
            case "Metaspace" -> {
                replace[0] = HfTextSteps.string(m, "replacement", "Metaspace decoder", source);
                String scheme = m.get("prepend_scheme") instanceof String s ? s : (bool(m, "add_prefix_space", true) ? "always" : "never");
                if (!scheme.equals("never")) strip[0] = 1;
            }
            default -> throw new IllegalArgumentException(source + ": decoder type \"" + type + "\" is not supported");
        }
    }

    // ------------------------------------------------------------------ specials

    /** {bos, eos} token strings from a TemplateProcessing "single" template (leading / trailing SpecialToken). */
    private String[] templateSpecials(Object spec) {
        String[] r = new String[2];
        if (spec == null) return r;
        Map<String, Object> m = asMap(spec, "post_processor", source);
        String type = HfTextSteps.typeOf(m, "post_processor", source);
        switch (type) {
            case "TemplateProcessing" -> {
                List<Object> single = asList(m.get("single"), "post_processor.single", source);
                if (!single.isEmpty()) {
                    r[0] = specialIn(single.get(0));
                    r[1] = single.size() > 1 ? specialIn(single.get(single.size() - 1)) : null;
                }
            }
            case "Sequence" -> {
                for (Object o : asList(m.get("processors"), "post_processor.processors", source)) {
                    String[] s = templateSpecials(o);
                    if (s[0] != null) r[0] = s[0];
                    if (s[1] != null) r[1] = s[1];
                }
            }
            case "ByteLevel" -> {
            }
            default -> throw new IllegalArgumentException(source + ": post_processor type \"" + type + "\" is not supported");
        }
        return r;
    }

    private String specialIn(Object piece) {
        if (piece instanceof Map<?, ?> pm && pm.get("SpecialToken") instanceof Map<?, ?> st && st.get("id") instanceof String s) return s;
        return null;
    }

    private int idOfConfigToken(Map<String, Object> config, String key) {
        if (config == null) return -1;
        Object v = config.get(key);
        String s = v instanceof String str ? str : v instanceof Map<?, ?> m && m.get("content") instanceof String c ? c : null;
        if (s == null) return -1;
        Integer id = vocab.get(s);
        if (id == null) throw new IllegalArgumentException(source + ": tokenizer_config.json " + key + " \"" + s + "\" is not in the vocabulary");
        return id;
    }

    private int firstPresent(String... names) {
        for (String s : names) if (vocab.containsKey(s)) return vocab.get(s);
        return -1;
    }

    private int idValue(Object v, String what) {
        if (v instanceof Long l && l >= 0 && l < Integer.MAX_VALUE) return l.intValue();
        throw new IllegalArgumentException(source + ": " + what + " must be a non-negative integer id, got " + v);
    }

    // ------------------------------------------------------------------ vocabulary

    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public boolean addsBosByDefault() {
        return addBos && bosId >= 0;
    }

    @Override
    public boolean addsEosByDefault() {
        return addEos && eosId >= 0;
    }

    @Override
    public String token(int id) {
        checkId(id);
        return idToToken[id];
    }

    @Override
    public int tokenId(String token) {
        return vocab.getOrDefault(token, -1);
    }

    /** Number of merges in the file. */
    public int mergeCount() {
        return merges.size();
    }

    @Override
    public String toString() {
        return "HfBpeTokenizer(" + source + ", " + idToToken.length + " tokens, " + merges.size() + " merges)";
    }

    /** A growable int array. */
    static final class IntList {
        private int[] a;
        private int n;

        IntList(int cap) {
            a = new int[Math.max(4, cap)];
        }

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, 2 * n);
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
