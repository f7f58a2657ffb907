package io.lowbit.models.tokenizer;

import io.lowbit.tensor.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The result of {@link BpeTrainer}: tokens by id and merges in rank order, serialisable as a Hugging Face
 * {@code tokenizer.json} (schema of the {@code tokenizers} library: version, truncation, padding,
 * added_tokens, normalizer, pre_tokenizer, post_processor, decoder, model) with a byte-level
 * pre-tokenizer and decoder, and a TemplateProcessing post-processor that puts {@code <s>} first when
 * that special token exists.
 *
 * @param tokens   token strings by id (specials, 256 byte symbols, merged tokens)
 * @param merges   pairs of ids, in the order they were learned (rank = index)
 * @param specials the special tokens (ids 0..specials.size()-1)
 */
public record TrainedBpe(List<String> tokens, List<int[]> merges, List<String> specials) {

    /** The {@code tokenizer.json} document as nested maps and lists (key order fixed, so output is reproducible). */
    public Map<String, Object> toJson() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        List<Object> added = new ArrayList<>();
        for (int i = 0; i < specials.size(); i++)
            added.add(obj("id", (long) i, "content", specials.get(i), "single_word", false, "lstrip", false, "rstrip", false,
                    "normalized", false, "special", true));
        root.put("added_tokens", added);
        root.put("normalizer", null);
        root.put("pre_tokenizer", obj("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true, "use_regex", true));
        int bos = specials.indexOf("<s>");
        if (bos >= 0) {
            List<Object> single = List.of(obj("SpecialToken", obj("id", "<s>", "type_id", 0L)), obj("Sequence", obj("id", "A", "type_id", 0L)));
            List<Object> pair = List.of(obj("SpecialToken", obj("id", "<s>", "type_id", 0L)), obj("Sequence", obj("id", "A", "type_id", 0L)),
                    obj("Sequence", obj("id", "B", "type_id", 1L)));
            root.put("post_processor", obj("type", "TemplateProcessing", "single", single, "pair", pair,
                    "special_tokens", obj("<s>", obj("id", "<s>", "ids", List.of((long) bos), "tokens", List.of("<s>")))));
        } else root.put("post_processor", null);
        root.put("decoder", obj("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", true, "use_regex", true));
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int i = 0; i < tokens.size(); i++) vocab.put(tokens.get(i), (long) i);
        List<Object> ml = new ArrayList<>(merges.size());
        for (int[] m : merges) ml.add(tokens.get(m[0]) + " " + tokens.get(m[1]));
        Map<String, Object> model = obj("type", "BPE", "dropout", null, "unk_token", null, "continuing_subword_prefix", null,
                "end_of_word_suffix", null, "fuse_unk", false, "byte_fallback", false, "ignore_merges", false);
        model.put("vocab", vocab);
        model.put("merges", ml);
        root.put("model", model);
        return root;
    }

    /** A tokenizer for the learned vocabulary (the same object {@link #save(Path)} and {@link HfBpeTokenizer#load(Path)} give). */
    public HfBpeTokenizer tokenizer() {
        return HfBpeTokenizer.fromJson(toJson(), null, "trained BPE (" + tokens.size() + " tokens)");
    }

    /** Writes {@code tokenizer.json} atomically: a temporary file in the same directory, then a rename over {@code file}. */
    public void save(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // a fresh name beside the target (not createTempFile, whose 0600 mode would survive the rename)
        Path tmp = dir.resolve("." + file.getFileName() + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".tmp");
        try {
            Files.writeString(tmp, Json.writePretty(toJson()), StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
