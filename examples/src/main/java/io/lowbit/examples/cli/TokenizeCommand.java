package io.lowbit.examples.cli;

import io.lowbit.models.tokenizer.BpeTrainer;
import io.lowbit.models.tokenizer.Tokenizer;
import io.lowbit.models.tokenizer.TrainedBpe;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit tokenize --tokenizer PATH --text TEXT}: prints the token ids of a text, space-separated on
 * one line, with BOS when the tokenizer adds it by default ({@code --no-bos} / {@code --bos} override);
 * {@code --decode} prints the text of ids instead. With {@code --train CORPUS...} it instead learns a
 * byte-level BPE of {@code --vocab-size} tokens from the corpus files and writes it to the
 * {@code --tokenizer} path as a Hugging Face {@code tokenizer.json}.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text (space-separated, one line), or decode ids back to text.")
public final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "PATH",
            description = "SentencePiece tokenizer.model, HF tokenizer.json, or a directory holding one.")
    Path tokenizer;

    @Option(names = "--text", paramLabel = "TEXT", description = "The text to encode.")
    String text;

    @Option(names = "--file", paramLabel = "FILE", description = "Encode the contents of a UTF-8 file instead of --text.")
    Path file;

    @Option(names = "--bos", negatable = true, description = "Put BOS first (default: as the tokenizer does).")
    Boolean bos;

    @Option(names = "--eos", negatable = true, description = "Put EOS last (default: as the tokenizer does).")
    Boolean eos;

    @Option(names = "--pieces", description = "Also print the vocabulary string of each id on a second line.")
    boolean pieces;

    @Option(names = "--decode", paramLabel = "IDS", description = "Decode these ids (space or comma separated) and print the text.")
    String decode;

    @Option(names = "--train", paramLabel = "CORPUS", arity = "1..*",
            description = "Train a byte-level BPE on these UTF-8 text files and write it to the --tokenizer path (a .json file or a directory).")
    List<Path> train;

    @Option(names = "--vocab-size", paramLabel = "N", defaultValue = "4096", description = "Vocabulary size for --train (default ${DEFAULT-VALUE}).")
    int vocabSize;

    @Option(names = "--min-frequency", paramLabel = "N", defaultValue = "2", description = "Least pair count merged by --train (default ${DEFAULT-VALUE}).")
    int minFrequency;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (train != null) return train(out);
        Tokenizer tok = Tokenizer.load(tokenizer);
        if (decode != null) {
            if (text != null || file != null) throw new IllegalArgumentException("--decode cannot be combined with --text or --file");
            String[] parts = decode.trim().split("[\\s,]+");
            int[] ids = new int[parts.length == 1 && parts[0].isEmpty() ? 0 : parts.length];
            for (int i = 0; i < ids.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--decode: \"" + parts[i] + "\" is not an integer id");
                }
            }
            out.println(tok.decode(ids));
            out.flush();
            return 0;
        }
        if ((text == null) == (file == null)) throw new IllegalArgumentException("give exactly one of --text or --file (or --decode)");
        String input = text != null ? text : Files.readString(file, StandardCharsets.UTF_8);
        boolean addBos = bos != null ? bos : tok.addsBosByDefault();
        boolean addEos = eos != null ? eos : tok.addsEosByDefault();
        int[] ids = tok.encode(input, addBos, addEos);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) sb.append(i == 0 ? "" : " ").append(ids[i]);
        out.println(sb);
        if (pieces) {
            StringBuilder ps = new StringBuilder();
            for (int i = 0; i < ids.length; i++) ps.append(i == 0 ? "" : " ").append(tok.token(ids[i]));
            out.println(ps);
        }
        out.flush();
        return 0;
    }

    private int train(PrintWriter out) throws Exception {
        if (text != null || file != null || decode != null) throw new IllegalArgumentException("--train cannot be combined with --text, --file or --decode");
        Path dest = Files.isDirectory(tokenizer) ? tokenizer.resolve("tokenizer.json") : tokenizer;
        if (!dest.getFileName().toString().endsWith(".json"))
            throw new IllegalArgumentException("--tokenizer " + tokenizer + ": a trained tokenizer is written as JSON; give a .json file or a directory");
        StringBuilder corpus = new StringBuilder();
        for (Path p : train) {
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("--train " + p + ": no such file");
            corpus.append(Files.readString(p, StandardCharsets.UTF_8));
            if (corpus.length() > 0 && corpus.charAt(corpus.length() - 1) != '\n') corpus.append('\n');
        }
        long t0 = System.nanoTime();
        TrainedBpe bpe = new BpeTrainer(vocabSize, minFrequency, BpeTrainer.DEFAULT_SPECIALS).train(corpus.toString());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        bpe.save(dest);
        out.println("trained " + bpe.tokens().size() + " tokens (" + bpe.merges().size() + " merges) on " + corpus.length()
                + " chars in " + ms + " ms -> " + dest);
        out.flush();
        return 0;
    }
}
