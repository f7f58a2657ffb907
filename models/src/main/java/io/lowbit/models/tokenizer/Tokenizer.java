package io.lowbit.models.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Maps text to token ids and back. Implementations are immutable and safe to share between threads.
 *
 * <p>Decoding is defined on bytes: every token contributes {@link #tokenBytes(int, int)} (its UTF-8
 * bytes, or one raw byte for a byte-fallback / byte-level piece), and text is the concatenation decoded
 * as UTF-8, each byte of an invalid sequence becoming U+FFFD.
 */
public interface Tokenizer {

    /**
     * Token ids for {@code text}; with {@code addBos} the id {@link #bosId()} is put first, with
     * {@code addEos} {@link #eosId()} last (an exception if the tokenizer has none).
     */
    int[] encode(String text, boolean addBos, boolean addEos);

    /** Encodes with the tokenizer's own default for BOS/EOS ({@link #addsBosByDefault()}, {@link #addsEosByDefault()}). */
    default int[] encode(String text) {
        return encode(text, addsBosByDefault(), addsEosByDefault());
    }

    /** Number of ids (the largest id plus one). */
    int vocabSize();

    /** Beginning-of-sequence id, or -1 if the tokenizer has none. */
    int bosId();

    /** End-of-sequence id, or -1 if the tokenizer has none. */
    int eosId();

    /** Whether the model this tokenizer belongs to expects a BOS in front of each text. */
    boolean addsBosByDefault();

    /** Whether the model expects an EOS after each text. */
    default boolean addsEosByDefault() {
        return false;
    }

    /** The vocabulary string of {@code id} as stored in the file (e.g. {@code "▁Hello"}, {@code "<0x0A>"}, {@code "Ġworld"}). */
    String token(int id);

    /** The id of a vocabulary string, or -1 if absent. */
    int tokenId(String token);

    /**
     * The bytes token {@code id} adds to the decoded text when it follows token {@code prev} (-1 at the
     * start): special/control tokens add nothing, a leading dummy-prefix space is dropped at the start or
     * right after a special token, byte pieces add their single byte.
     */
    byte[] tokenBytes(int prev, int id);

    /** Text of a whole id sequence; the inverse of {@link #encode(String, boolean, boolean)} for texts it can represent. */
    default String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int prev = -1;
        for (int id : ids) {
            checkId(id);
            out.writeBytes(tokenBytes(prev, id));
            prev = id;
        }
        return Utf8.decodeLossy(out.toByteArray(), 0, out.size());
    }

    /**
     * The text token {@code id} adds after {@code prev}, for printing while generating. Stateless, so a
     * byte piece that is only part of a multi-byte character shows as U+FFFD; {@link #streamDecoder()}
     * reassembles such characters exactly.
     */
    default String decodeToken(int prev, int id) {
        checkId(id);
        byte[] b = tokenBytes(prev, id);
        return Utf8.decodeLossy(b, 0, b.length);
    }

    /** A decoder that is fed ids one by one and emits text as soon as characters are complete. */
    default StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    /** Throws a clear exception for ids outside {@code [0, vocabSize)}. */
    default void checkId(int id) {
        if (id < 0 || id >= vocabSize())
            throw new IllegalArgumentException("token id " + id + " out of range [0, " + vocabSize() + ")");
    }

    /**
     * Loads a tokenizer, choosing the format from the path: a file ending in {@code .model} is a
     * SentencePiece model; a {@code .json} file is a Hugging Face {@code tokenizer.json} (a
     * {@code tokenizer_config.json} beside it supplies add_bos/bos/eos); a directory is searched for
     * {@code tokenizer.json}, then {@code tokenizer.model}.
     */
    static Tokenizer load(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path json = path.resolve("tokenizer.json");
            if (Files.isRegularFile(json)) return HfBpeTokenizer.load(json);
            Path model = path.resolve("tokenizer.model");
            if (Files.isRegularFile(model)) return SentencePieceTokenizer.load(model);
            throw new IOException(path + ": directory holds neither tokenizer.json nor tokenizer.model");
        }
        if (!Files.isRegularFile(path)) throw new IOException(path + ": no such tokenizer file");
        String name = path.getFileName().toString();
        if (name.endsWith(".model")) return SentencePieceTokenizer.load(path);
        if (name.endsWith(".json")) return HfBpeTokenizer.load(path);
        throw new IOException(path + ": unknown tokenizer format (expected a SentencePiece .model, a tokenizer.json, or a directory holding one)");
    }
}
