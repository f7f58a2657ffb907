package io.lowbit.models.tokenizer;

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
 * A SentencePiece BPE model ({@code tokenizer.model} of Llama-2, Mistral), read with our own protobuf
 * reader and encoded the way SentencePiece's {@code bpe_model.cc} does: normalize (optional
 * whitespace cleanup, dummy-prefix space, spaces to {@code ▁}), split into characters, greedily merge the
 * adjacent pair whose concatenation is a piece with the highest score, then spell characters that are
 * not pieces as their UTF-8 bytes ({@code <0xNN>} pieces) when byte fallback is on, else as unk.
 */
public final class SentencePieceTokenizer implements Tokenizer {
    /** SentencePiece's whitespace symbol U+2581. */
    public static final String SPACE = "\u2581";
    /** What SentencePiece prints for an unknown piece. */
    static final String UNK_SURFACE = " \u2047 ";

    /** ModelProto.SentencePiece.Type values. */
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private final String source;
    private final String[] pieces;
    private final float[] scores;
    private final int[] types;
    private final int[] rank; // dense rank of score, best = 0: the merge priority of a piece
    private final Map<String, Integer> mergeable = new HashMap<>(); // NORMAL, USER_DEFINED, UNUSED pieces
    private final Long2LongOpenHashMap mergeTable = new Long2LongOpenHashMap();
    private final int[] byteIds = new int[256];
    private final List<String> userDefined = new ArrayList<>(); // longest first
    private final boolean hasUnused;
    private final int unkId, bosId, eosId;
    private final boolean byteFallback, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces;

    private SentencePieceTokenizer(String source, String[] pieces, float[] scores, int[] types, int unkId, int bosId, int eosId,
                                   boolean byteFallback, boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces) {
        this.source = source;
        this.pieces = pieces;
        this.scores = scores;
        this.types = types;
        this.unkId = unkId;
        this.bosId = bosId;
        this.eosId = eosId;
        this.byteFallback = byteFallback;
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
        int n = pieces.length;
        Arrays.fill(byteIds, -1);
        boolean unused = false;
        for (int i = 0; i < n; i++) {
            int t = types[i];
            if (t == NORMAL || t == USER_DEFINED || t == UNUSED) {
                if (mergeable.putIfAbsent(pieces[i], i) != null)
                    throw new IllegalArgumentException(source + ": piece " + i + " \"" + pieces[i] + "\" appears twice");
                if (t == USER_DEFINED) userDefined.add(pieces[i]);
                if (t == UNUSED) unused = true;
            } else if (t == BYTE) {
                int b = parseBytePiece(pieces[i]);
                if (b < 0) throw new IllegalArgumentException(source + ": BYTE piece " + i + " \"" + pieces[i] + "\" is not of the form <0xNN>");
                byteIds[b] = i;
            }
        }
        hasUnused = unused;
        userDefined.sort((a, b) -> Integer.compare(b.length(), a.length()));
        if (byteFallback)
            for (int b = 0; b < 256; b++)
                if (byteIds[b] < 0) throw new IllegalArgumentException(source + ": byte_fallback is on but piece <0x" + hex(b) + "> is missing");
        // dense rank by score, higher score = lower rank; equal scores share a rank so ties fall to the leftmost pair
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(scores[b], scores[a]));
        rank = new int[n];
        int r = -1;
        for (int k = 0; k < n; k++) {
            if (k == 0 || scores[order[k]] != scores[order[k - 1]]) r++;
            rank[order[k]] = r;
        }
        // every way to spell a mergeable piece as two mergeable pieces: (left, right) -> (rank, piece)
        mergeTable.defaultReturnValue(-1);
        for (Map.Entry<String, Integer> e : mergeable.entrySet()) {
            String p = e.getKey();
            for (int k = p.offsetByCodePoints(0, 1); k < p.length(); k = p.offsetByCodePoints(k, 1)) {
                Integer left = mergeable.get(p.substring(0, k)), right = mergeable.get(p.substring(k));
                if (left != null && right != null) mergeTable.put((long) left << 32 | right, BpeMerger.pack(rank[e.getValue()], e.getValue()));
            }
        }
    }

    /** Reads a SentencePiece {@code .model} file; corrupt or unsupported files get an exception naming the file and byte offset. */
    public static SentencePieceTokenizer load(Path file) throws IOException {
        return parse(Files.readAllBytes(file), file.toString());
    }

    /**
     * Parses the bytes of a ModelProto: field 1 pieces (piece = 1 string, score = 2 float, type = 3 enum),
     * 2 trainer_spec (model_type = 3, treat_whitespace_as_suffix = 24, byte_fallback = 35, unk/bos/eos_id =
     * 40/41/42), 3 normalizer_spec (name = 1, precompiled_charsmap = 2, add_dummy_prefix = 3,
     * remove_extra_whitespaces = 4, escape_whitespaces = 5).
     */
    public static SentencePieceTokenizer parse(byte[] bytes, String source) {
        ProtoReader r = new ProtoReader(bytes, source);
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        long modelType = 1; // UNIGRAM is the proto default
        boolean byteFallback = false, suffix = false;
        long unk = 0, bos = 1, eos = 2;
        boolean dummy = true, removeWs = true, escapeWs = true;
        String normName = "";
        boolean charsmap = false;
        boolean sawTrainer = false;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (ProtoReader.field(tag)) {
                case 1 -> {
                    r.expect(tag, ProtoReader.LEN);
                    int at = r.offset();
                    ProtoReader p = r.readMessage();
                    String piece = null;
                    float score = 0;
                    long type = NORMAL;
                    while (p.hasMore()) {
                        int t = p.readTag();
                        switch (ProtoReader.field(t)) {
                            case 1 -> { p.expect(t, ProtoReader.LEN); piece = p.readString(); }
                            case 2 -> { p.expect(t, ProtoReader.FIXED32); score = p.readFloat(); }
                            case 3 -> { p.expect(t, ProtoReader.VARINT); type = p.readVarint(); }
                            default -> p.skip(t);
                        }
                    }
                    if (piece == null) throw r.error(at, "piece " + pieces.size() + " has no text (field 1)");
                    if (type < NORMAL || type > BYTE) throw r.error(at, "piece " + pieces.size() + " has unknown type " + type);
                    pieces.add(piece);
                    scores.add(score);
                    types.add((int) type);
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN);
                    sawTrainer = true;
                    ProtoReader t = r.readMessage();
                    while (t.hasMore()) {
                        int tt = t.readTag();
                        switch (ProtoReader.field(tt)) {
                            case 3 -> { t.expect(tt, ProtoReader.VARINT); modelType = t.readVarint(); }
                            case 24 -> { t.expect(tt, ProtoReader.VARINT); suffix = t.readVarint() != 0; }
                            case 35 -> { t.expect(tt, ProtoReader.VARINT); byteFallback = t.readVarint() != 0; }
                            case 40 -> { t.expect(tt, ProtoReader.VARINT); unk = (int) t.readVarint(); }
                            case 41 -> { t.expect(tt, ProtoReader.VARINT); bos = (int) t.readVarint(); }
                            case 42 -> { t.expect(tt, ProtoReader.VARINT); eos = (int) t.readVarint(); }
                            default -> t.skip(tt);
                        }
                    }
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.LEN);
                    ProtoReader nr = r.readMessage();
                    while (nr.hasMore()) {
                        int nt = nr.readTag();
                        switch (ProtoReader.field(nt)) {
                            case 1 -> { nr.expect(nt, ProtoReader.LEN); normName = nr.readString(); }
                            case 2 -> { nr.expect(nt, ProtoReader.LEN); charsmap = nr.readMessage().hasMore(); }
                            case 3 -> { nr.expect(nt, ProtoReader.VARINT); dummy = nr.readVarint() != 0; }
                            case 4 -> { nr.expect(nt, ProtoReader.VARINT); removeWs = nr.readVarint() != 0; }
                            case 5 -> { nr.expect(nt, ProtoReader.VARINT); escapeWs = nr.readVarint() != 0; }
                            default -> nr.skip(nt);
                        }
                    }
                }
                default -> r.skip(tag);
            }
        }
        if (pieces.isEmpty()) throw new IllegalArgumentException(source + ": not a SentencePiece model (no pieces in field 1)");
        if (!sawTrainer) throw new IllegalArgumentException(source + ": SentencePiece model has no trainer_spec (field 2), cannot tell its model type");
        if (modelType != 2)
            throw new IllegalArgumentException(source + ": SentencePiece model_type " + modelType + " ("
                    + switch ((int) modelType) { case 1 -> "UNIGRAM"; case 3 -> "WORD"; case 4 -> "CHAR"; default -> "unknown"; }
                    + ") is not supported; only BPE (2)");
        if (suffix) throw new IllegalArgumentException(source + ": treat_whitespace_as_suffix is not supported");
        if (charsmap)
            throw new IllegalArgumentException(source + ": normalizer \"" + normName + "\" has a precompiled charsmap (e.g. NFKC rules), which is not supported; only identity normalization");
        int n = pieces.size();
        for (long id : new long[] {unk, bos, eos})
            if (id >= n) throw new IllegalArgumentException(source + ": special id " + id + " is outside the " + n + " pieces");
        String[] pa = pieces.toArray(new String[0]);
        float[] sa = new float[n];
        int[] ta = new int[n];
        for (int i = 0; i < n; i++) {
            sa[i] = scores.get(i);
            ta[i] = types.get(i);
        }
        if (unk >= 0 && ta[(int) unk] != UNKNOWN)
            throw new IllegalArgumentException(source + ": unk_id " + unk + " points at piece \"" + pa[(int) unk] + "\" which is not of type UNKNOWN");
        return new SentencePieceTokenizer(source, pa, sa, ta, (int) unk, (int) bos, (int) eos, byteFallback, dummy, removeWs, escapeWs);
    }

    // ------------------------------------------------------------------ encoding

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        if (addBos && bosId < 0) throw new IllegalArgumentException(source + ": this tokenizer has no BOS");
        if (addEos && eosId < 0) throw new IllegalArgumentException(source + ": this tokenizer has no EOS");
        String norm = normalize(text);
        // split into characters, user-defined pieces kept whole; characters outside the vocabulary are -2 - codepoint
        int[] sym = new int[norm.length()];
        int n = 0;
        for (int i = 0; i < norm.length(); ) {
            String ud = matchUserDefined(norm, i);
            if (ud != null) {
                sym[n++] = mergeable.get(ud);
                i += ud.length();
                continue;
            }
            int cp = norm.codePointAt(i);
            int len = Character.charCount(cp);
            Integer id = mergeable.get(norm.substring(i, i + len));
            sym[n++] = id != null ? id : -2 - cp;
            i += len;
        }
        // every output id stands for at least one initial symbol, or is one of the <= 4 bytes of an unknown one
        int[] out = new int[n * 4 + 2];
        Map<Integer, int[]> revMerge = hasUnused ? new HashMap<>() : null;
        n = BpeMerger.merge(sym, n, this::findMerge, hasUnused ? (a, b, c) -> revMerge.put(c, new int[] {a, b}) : null);
        int m = 0;
        if (addBos) out[m++] = bosId;
        boolean prevUnk = false;
        for (int k = 0; k < n; k++) {
            int id = sym[k];
            if (id >= 0) {
                if (hasUnused) m += resegment(id, revMerge, out, m);
                else out[m++] = id;
                prevUnk = false;
            } else if (byteFallback) {
                byte[] utf8 = new String(Character.toChars(-2 - id)).getBytes(StandardCharsets.UTF_8);
                for (byte b : utf8) out[m++] = byteIds[b & 0xFF];
                prevUnk = false;
            } else {
                if (!prevUnk) out[m++] = unkId; // SentencePiece fuses a run of unknown characters into one unk
                prevUnk = true;
            }
        }
        if (addEos) out[m++] = eosId;
        return Arrays.copyOf(out, m);
    }

    /** Merge priority: the dense score rank of the concatenated piece if it is a (mergeable) piece. */
    private long findMerge(int left, int right) {
        return mergeTable.get((long) left << 32 | right);
    }

    /** UNUSED pieces may take part in merges but are never output: split them back into what formed them. */
    private int resegment(int id, Map<Integer, int[]> revMerge, int[] out, int m) {
        int[] parts = types[id] == UNUSED ? revMerge.get(id) : null;
        if (parts == null) {
            out[m] = id;
            return 1;
        }
        int c1 = resegment(parts[0], revMerge, out, m);
        return c1 + resegment(parts[1], revMerge, out, m + c1);
    }

    private String matchUserDefined(String s, int i) {
        for (String u : userDefined) if (s.startsWith(u, i)) return u;
        return null;
    }

    /** SentencePiece's normalizer without a charsmap: whitespace cleanup, dummy prefix, escape spaces as ▁. */
    String normalize(String text) {
        String t = text;
        if (removeExtraWhitespaces) {
            StringBuilder sb = new StringBuilder(t.length());
            boolean space = true; // drops leading spaces
            for (int i = 0; i < t.length(); i++) {
                char c = t.charAt(i);
                if (c == ' ') {
                    if (!space) sb.append(' ');
                    space = true;
                } else {
                    sb.append(c);
                    space = false;
                }
            }
            int e = sb.length();
            while (e > 0 && sb.charAt(e - 1) == ' ') e--;
            t = sb.substring(0, e);
        }
        if (t.isEmpty()) return t;
        if (addDummyPrefix) t = " " + t;
        if (escapeWhitespaces) t = t.replace(" ", SPACE);
        return t;
    }

    // ------------------------------------------------------------------ decoding

    @Override
    public byte[] tokenBytes(int prev, int id) {
        checkId(id);
        int t = types[id];
        if (t == CONTROL) return new byte[0];
        if (t == UNKNOWN) return UNK_SURFACE.getBytes(StandardCharsets.UTF_8);
        if (t == BYTE) return new byte[] {(byte) parseBytePiece(pieces[id])};
        String p = pieces[id];
        boolean atStart = prev < 0 || types[prev] == CONTROL;
        if (atStart && addDummyPrefix && p.startsWith(SPACE)) p = p.substring(SPACE.length());
        return p.replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ vocabulary

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    /** Llama-2 and Mistral put BOS before every text. */
    @Override
    public boolean addsBosByDefault() {
        return bosId >= 0;
    }

    @Override
    public String token(int id) {
        checkId(id);
        return pieces[id];
    }

    @Override
    public int tokenId(String token) {
        Integer id = mergeable.get(token);
        if (id != null) return id;
        for (int i = 0; i < pieces.length; i++) if (types[i] != NORMAL && pieces[i].equals(token)) return i;
        return -1;
    }

    /** Score of piece {@code id} (its log-probability-like merge priority). */
    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    /** ModelProto.SentencePiece type of piece {@code id} (1 NORMAL ... 6 BYTE). */
    public int type(int id) {
        checkId(id);
        return types[id];
    }

    /** Id of the unknown piece. */
    public int unkId() {
        return unkId;
    }

    /** Whether characters outside the vocabulary are spelled as {@code <0xNN>} byte pieces. */
    public boolean byteFallback() {
        return byteFallback;
    }

    /** 0..255 for a piece "&lt;0xNN&gt;", else -1. */
    static int parseBytePiece(String p) {
        if (p.length() != 6 || !p.startsWith("<0x") || p.charAt(5) != '>') return -1;
        int hi = Character.digit(p.charAt(3), 16), lo = Character.digit(p.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    static String hex(int b) {
        return String.format("%02X", b);
    }

    @Override
    public String toString() {
        return "SentencePieceTokenizer(" + source + ", " + pieces.length + " pieces)";
    }
}
