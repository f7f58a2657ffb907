package io.lowbit.models;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared third-party test assets ({@code -Dlowbit.shared}); fails loudly when they are missing. */
public final class TestAssets {
    private TestAssets() {}

    /** The shared folder. */
    public static Path shared() {
        String p = System.getProperty("lowbit.shared");
        if (p == null) throw new AssertionError("system property lowbit.shared is not set (run through Maven or ./lowbit test)");
        Path dir = Path.of(p);
        if (!Files.isDirectory(dir)) throw new AssertionError("lowbit.shared = " + p + " is not a directory: the shared test assets are missing");
        return dir;
    }

    /** A file under the shared folder, which must exist. */
    public static Path file(String relative) {
        Path f = shared().resolve(relative);
        if (!Files.isRegularFile(f)) throw new AssertionError("shared test asset " + f + " is missing");
        return f;
    }
}
