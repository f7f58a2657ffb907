package io.lowbit.models.quant;

import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.models.tokenizer.SentencePieceTokenizer;
import io.lowbit.models.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Evaluation data for {@code eval}/{@code quant-table}. A file whose name ends in {@code .ids} holds token ids
 * as whitespace-separated decimal integers (what {@code ./lowbit generate --print-ids} prints); any other
 * file is UTF-8 text, tokenized with the given tokenizer ({@code tokenizer.json}: Hugging Face BPE;
 * {@code tokenizer.model}/{@code .model}: SentencePiece) or, without one, the checkpoint directory's own.
 * Ids that do not start with BOS (id 1, as LLaMA models are trained) get one prepended: {@code generate
 * --print-ids} omits it, and without it a model scores its own samples far worse (stories260K: perplexity
 * 74.6 instead of 13.9).
 */
public final class TokenData {
    /** Beginning-of-sequence id of the LLaMA vocabularies. */
    public static final int BOS = 1;

    private TokenData() {}

    /** The token ids of {@code data}, checked against {@code vocab}. */
    public static int[] read(Path data, Path tokenizer, Path checkpoint, int vocab) throws IOException {
        if (!Files.isRegularFile(data)) throw new IOException(data + ": no such data file");
        int[] ids;
        if (data.getFileName().toString().endsWith(".ids")) {
            ids = readIds(data);
            if (ids.length > 0 && ids[0] != BOS) {
                int[] withBos = new int[ids.length + 1];
                withBos[0] = BOS;
                System.arraycopy(ids, 0, withBos, 1, ids.length);
                ids = withBos;
            }
        }
        else {
            Tokenizer tok = loadTokenizer(tokenizer, checkpoint);
            ids = tok.encode(Files.readString(data, StandardCharsets.UTF_8), tok.bosId() >= 0, false);
        }
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException(data + ": token id " + ids[i] + " at index " + i + " is outside the model's vocabulary [0, " + vocab + ")");
        if (ids.length < 2) throw new IllegalArgumentException(data + ": needs at least 2 tokens, has " + ids.length);
        return ids;
    }

    /** Whitespace-separated decimal ids. */
    public static int[] readIds(Path file) throws IOException {
        String[] parts = Files.readString(file, StandardCharsets.UTF_8).trim().split("\\s+");
        if (parts.length == 1 && parts[0].isEmpty()) return new int[0];
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": token " + i + " ('" + parts[i] + "') is not an integer id (a .ids file holds ids only)");
            }
        }
        return ids;
    }

    /**
     * {@code tokenizer} ({@code .json}: Hugging Face BPE; otherwise SentencePiece) or, when null, the checkpoint
     * directory's own {@code tokenizer.json} / {@code tokenizer.model}; a clear error when there is none.
     */
    public static Tokenizer loadTokenizer(Path tokenizer, Path checkpoint) throws IOException {
        Path t = tokenizer;
        if (t == null && checkpoint != null && Files.isDirectory(checkpoint)) {
            if (Files.exists(checkpoint.resolve("tokenizer.json"))) t = checkpoint.resolve("tokenizer.json");
            else if (Files.exists(checkpoint.resolve("tokenizer.model"))) t = checkpoint.resolve("tokenizer.model");
        }
        if (t == null)
            throw new IllegalArgumentException("text data needs a tokenizer: pass --tokenizer (tokenizer.json or tokenizer.model), or use a .ids file of token ids");
        if (t.getFileName().toString().endsWith(".json")) return HfBpeTokenizer.load(t);
        return SentencePieceTokenizer.load(t);
    }
}
