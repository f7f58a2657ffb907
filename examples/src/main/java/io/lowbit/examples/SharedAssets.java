package io.lowbit.examples;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the third-party assets (the stories260K checkpoint, the Llama-2 and Mistral tokenizers) in the
 * shared folder: the {@code lowbit.shared} system property (set by {@code ./lowbit} and the Maven build),
 * else the {@code LOWBIT_SHARED} environment variable.
 */
public final class SharedAssets {
    private SharedAssets() {}

    /** The shared folder; a clear message when neither the property nor the variable is set. */
    public static Path root() {
        String p = System.getProperty("lowbit.shared");
        if (p == null || p.isEmpty()) p = System.getenv("LOWBIT_SHARED");
        if (p == null || p.isEmpty())
            throw new IllegalStateException("the shared assets folder is not configured: run through ./lowbit (which sets it to "
                    + "../shared beside the repository), or pass -Dlowbit.shared=/path/to/shared, or set LOWBIT_SHARED");
        Path root = Path.of(p);
        if (!Files.isDirectory(root))
            throw new IllegalStateException("the shared assets folder " + root + " does not exist (lowbit.shared / LOWBIT_SHARED)");
        return root;
    }

    /** A file under the shared folder, e.g. {@code "models/stories260K/stories260K.bin"}; fails clearly when missing. */
    public static Path file(String relative) {
        Path f = root().resolve(relative);
        if (!Files.isRegularFile(f))
            throw new IllegalStateException("missing shared asset " + f + " (expected under lowbit.shared / LOWBIT_SHARED = " + root() + ")");
        return f;
    }

    /** The llama2.c stories260K checkpoint: a real 260K-parameter LLaMA trained on TinyStories. */
    public static Path stories260K() {
        return file("models/stories260K/stories260K.bin");
    }
}
