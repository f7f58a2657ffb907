package io.lowbit.examples;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * docs/library.md shows the body of {@link QuickStart}'s snippet as a standalone class; this test keeps the
 * page and the compiled (and tested) example identical, so the documented code cannot rot.
 */
class LibraryDocTest {
    /** The repository root: the examples module's parent (Surefire runs in the module directory). */
    static Path repoRoot() {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent())
            if (Files.isDirectory(d.resolve("docs")) && Files.isDirectory(d.resolve("examples"))) return d;
        return fail("no repository root with docs/ and examples/ above " + dir);
    }

    static String snippet() throws IOException {
        String src = Files.readString(repoRoot().resolve("examples/src/main/java/io/lowbit/examples/QuickStart.java"), StandardCharsets.UTF_8);
        int start = src.indexOf("// --- snippet start"), end = src.indexOf("// --- snippet end");
        assertTrue(start > 0 && end > start, "QuickStart.java lost its snippet markers");
        start = src.indexOf('\n', start) + 1;
        end = src.lastIndexOf('\n', end) + 1;
        return src.substring(start, end);
    }

    @Test
    void libraryPageShowsTheCompiledSnippet() throws IOException {
        String doc = Files.readString(repoRoot().resolve("docs/library.md"), StandardCharsets.UTF_8);
        String code = snippet();
        assertTrue(code.lines().count() >= 15, "snippet too short to be the real one:\n" + code);
        assertTrue(doc.contains(code), "docs/library.md does not contain QuickStart's snippet verbatim; copy it again:\n" + code);
        assertTrue(doc.contains("io.lowbit</groupId>") && doc.contains("<artifactId>lowbit-models</artifactId>")
                && doc.contains("<version>0.1.0-SNAPSHOT</version>"), "coordinates missing from docs/library.md");
        assertTrue(doc.contains("--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"));
        // every import the snippet's class needs is on the page, so it compiles when pasted
        for (String imp : Files.readAllLines(repoRoot().resolve("examples/src/main/java/io/lowbit/examples/QuickStart.java")))
            if (imp.startsWith("import ")) assertTrue(doc.contains(imp), "docs/library.md lacks " + imp);
    }

    @Test
    void tutorialCoversEveryRegisteredExample() throws IOException {
        String doc = Files.readString(repoRoot().resolve("docs/tutorial.md"), StandardCharsets.UTF_8);
        for (Examples.Entry e : Examples.ALL)
            assertTrue(doc.contains("./lowbit example " + e.name()), "docs/tutorial.md has no section running " + e.name());
    }
}
