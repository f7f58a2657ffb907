package io.lowbit.examples;

import io.lowbit.models.tokenizer.BpeTrainer;
import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.models.tokenizer.Tokenizer;
import io.lowbit.models.tokenizer.TrainedBpe;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;
import java.util.zip.GZIPInputStream;

/**
 * Text to ids and back with three tokenizers: Llama-2's SentencePiece model, Mistral's Hugging Face
 * {@code tokenizer.json} (both real files from the shared folder), and a byte-level BPE we train here on
 * the start of Moby-Dick (the corpus shipped in the models jar), compared on text none of them trained on.
 */
public final class TokenizerTour {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "Llama-2 SentencePiece, Mistral tokenizer.json, and a byte-level BPE trained on Moby-Dick";

    /** The built-in corpus (public domain), a resource of the models module. */
    public static final String MOBY_DICK = "/io/lowbit/models/data/moby-dick.txt.gz";

    private TokenizerTour() {}

    public static void main(String[] args) throws Exception {
        ExampleArgs opts = ExampleArgs.parse(args);
        int vocab = opts.getInt("vocab", 4096);
        int trainChars = opts.getInt("train-chars", 300_000);
        opts.done();
        String sample = "Call me Ishmael. Some years ago—never mind how long precisely—I went to sea 🐋.";

        // 1. Llama-2: SentencePiece BPE over 32000 pieces; "▁" marks a space; characters outside the
        //    vocabulary (the whale emoji) fall back to one piece per UTF-8 byte, <0xF0> <0x9F> ...
        Tokenizer llama = Tokenizer.load(SharedAssets.file("tokenizers/llama2/tokenizer.model"));
        show("Llama-2 (SentencePiece)", llama, "Hello world");
        show("Llama-2 (SentencePiece)", llama, sample);

        // 2. Mistral: the same algorithm family, stored as a Hugging Face tokenizer.json (vocab + merges).
        Tokenizer mistral = Tokenizer.load(SharedAssets.file("tokenizers/mistral/tokenizer.json"));
        show("Mistral (tokenizer.json)", mistral, sample);

        // 3. Our own byte-level BPE: start from the 256 bytes and merge the most frequent adjacent pair
        //    until the vocabulary has `vocab` tokens. Train on the first part of the book ...
        String book = readMobyDick();
        String train = book.substring(0, Math.min(trainChars, book.length()));
        String heldOut = book.substring(train.length(), Math.min(book.length(), train.length() + 100_000));
        long t0 = System.nanoTime();
        TrainedBpe bpe = new BpeTrainer(vocab, 2, BpeTrainer.DEFAULT_SPECIALS).train(train);
        HfBpeTokenizer ours = bpe.tokenizer();
        System.out.printf(Locale.ROOT, "trained a %d-token byte-level BPE (%d merges) on %d chars of Moby-Dick in %d ms%n",
                bpe.tokens().size(), bpe.merges().size(), train.length(), (System.nanoTime() - t0) / 1_000_000);
        show("ours (byte-level BPE)", ours, sample);

        // ... and compare all three on the next 100k characters: fewer tokens per character means a
        // shorter sequence for the same text. A vocabulary learned from the book's own language gets
        // close to the 32000-token ones with an eighth of their size.
        System.out.printf(Locale.ROOT, "held-out Moby-Dick (%d chars), characters per token:%n", heldOut.length());
        for (Tokenizer t : new Tokenizer[] {llama, mistral, ours}) {
            int[] ids = t.encode(heldOut, false, false);
            boolean roundTrip = t.decode(ids).equals(heldOut);
            System.out.printf(Locale.ROOT, "  %-7s vocab %5d: %6d tokens, %.2f chars/token, decode(encode(text)) == text: %b%n",
                    t == llama ? "llama" : t == mistral ? "mistral" : "ours", t.vocabSize(), ids.length,
                    heldOut.length() / (double) ids.length, roundTrip);
        }
    }

    /** Prints a text's ids and pieces, and checks that decoding gives the text back. */
    static void show(String name, Tokenizer tok, String text) {
        int[] ids = tok.encode(text, true, false);
        StringJoiner pieces = new StringJoiner(" ");
        for (int id : ids) pieces.add(tok.token(id));
        System.out.printf(Locale.ROOT, "%s: \"%s\"%n  ids    %s%n  pieces %s%n  decode == text: %b%n", name, text,
                Arrays.toString(ids), pieces, tok.decode(ids).equals(text));
    }

    /** The whole book as a string. */
    static String readMobyDick() throws IOException {
        try (InputStream raw = TokenizerTour.class.getResourceAsStream(MOBY_DICK)) {
            if (raw == null) throw new IOException("resource " + MOBY_DICK + " is not on the class path (it ships in lowbit-models)");
            try (InputStream in = new GZIPInputStream(raw)) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
    }
}
