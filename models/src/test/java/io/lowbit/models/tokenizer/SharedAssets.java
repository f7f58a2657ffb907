package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the real third-party assets under {@code -Dlowbit.shared}; fails (never skips) when they are missing. */
final class SharedAssets {
    private SharedAssets() {
    }

    static Path file(String relative) {
        String root = System.getProperty("lowbit.shared");
        if (root == null || root.isEmpty()) fail("system property lowbit.shared is not set (run with -Dlowbit.shared=/work/shared)");
        Path p = Path.of(root).resolve(relative);
        if (!Files.isRegularFile(p)) fail("missing shared test asset " + p + " (lowbit.shared=" + root + ")");
        return p;
    }

    static Path llama2() {
        return file("tokenizers/llama2/tokenizer.model");
    }

    static Path mistral() {
        return file("tokenizers/mistral/tokenizer.json");
    }
}
