package io.lowbit.tensor.io;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Seeded, bounded property-based fuzzing of the safetensors header parser: a small valid file written by
 * {@link Safetensors#write} is mutated (bit flips, truncations, byte insertions, header-length rewrites) and
 * the parser must either accept it or throw an {@link IllegalArgumentException} naming the file — never
 * another exception type, a hang, an OutOfMemoryError or a read outside the bytes.
 */
class SafetensorsFuzzTest {
    private static byte[] valid;
    private static long live;

    @BeforeContainer
    static void build() throws IOException {
        live = Allocator.liveBytes();
        Path tmp = Files.createTempFile("fuzz", ".safetensors");
        try (Tensor a = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, 2, 3);
             Tensor b = Tensor.empty(DType.BF16, MemoryCategory.WEIGHTS, 5);
             Tensor c = Tensor.empty(DType.I8, MemoryCategory.WEIGHTS, 3, 1)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("model.a", a);
            m.put("model.b", b);
            m.put("c", c);
            Safetensors.write(tmp, m, Map.of("format", "pt"));
            valid = Files.readAllBytes(tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @AfterContainer
    static void noLeak() {
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked");
    }

    static void parseOrFailCleanly(byte[] bytes) {
        // a heap segment exactly as long as the file: any read past the end throws IndexOutOfBounds, which fails the test
        try {
            Safetensors.Header h = Safetensors.parseHeader(MemorySegment.ofArray(bytes), bytes.length, "fuzz.safetensors");
            for (Safetensors.Entry e : h.entries()) assertTrue(h.dataStart() + e.end() <= bytes.length, e.toString());
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.safetensors"), e.getMessage());
        }
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, valid.length - 1);
        Arbitrary<Integer> bit = Arbitraries.integers().between(0, 7);
        Arbitrary<Byte> by = Arbitraries.oneOf(Arbitraries.bytes(),
                Arbitraries.of((byte) '{', (byte) '}', (byte) '[', (byte) ']', (byte) '"', (byte) ',', (byte) ':', (byte) '-', (byte) '9', (byte) '0'));
        return Combinators.combine(pos, bit, by, Arbitraries.integers().between(0, 3)).as((p, k, v, kind) -> {
            byte[] b;
            switch (kind) {
                case 0 -> { b = valid.clone(); b[p] ^= (byte) (1 << k); }
                case 1 -> { b = new byte[valid.length + 1]; System.arraycopy(valid, 0, b, 0, p); b[p] = v;
                    System.arraycopy(valid, p, b, p + 1, valid.length - p); }
                case 2 -> b = java.util.Arrays.copyOf(valid, p);
                default -> { b = valid.clone(); b[p] = v; }
            }
            return b;
        });
    }

    @Property(tries = 4000, seed = "20261123")
    void mutatedFilesParseOrFailCleanly(@ForAll("mutated") byte[] bytes) {
        parseOrFailCleanly(bytes);
    }

    @Property(tries = 1000, seed = "20261123")
    void rewrittenHeaderLengthFailsCleanly(@ForAll long headerLength) {
        byte[] b = valid.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLength);
        parseOrFailCleanly(b);
    }

    /** The same mutations through the memory-mapped reader, reading every tensor it accepts. */
    @Property(tries = 600, seed = "20261123")
    void mappedFilesOpenAndReadOrFailCleanly(@ForAll("mutated") byte[] bytes) throws IOException {
        Path p = Files.createTempFile("fuzz", ".safetensors");
        try {
            Files.write(p, bytes);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (String name : f.names()) {
                    Tensor t = f.tensor(name);
                    assertEquals(f.entry(name).end() - f.entry(name).begin(), t.numel() * t.dtype().bytes, name);
                    if (t.numel() > 0) t.getDouble(t.numel() - 1); // the last element: its bytes end the tensor
                }
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
            }
        } finally {
            Files.delete(p);
        }
    }

    /** Index files whose weight_map names arbitrary strings: they load only files inside the directory, or fail cleanly. */
    @Property(tries = 300, seed = "20261123")
    void indexWithArbitraryShardNamesStaysInsideItsDirectory(@ForAll("shardNames") String shard) throws IOException {
        Path root = Files.createTempDirectory("fuzz-index");
        Path dir = Files.createDirectory(root.resolve("ckpt"));
        try {
            Files.write(root.resolve("outside.safetensors"), valid);
            Files.write(dir.resolve("inside.safetensors"), valid);
            Path idx = dir.resolve("model.safetensors.index.json");
            Files.writeString(idx, Json.write(Map.of("weight_map", Map.of("c", shard))));
            try (SafetensorsFile f = SafetensorsFile.open(idx)) {
                assertEquals(java.util.Set.of("c"), f.names());
                assertEquals("inside.safetensors", dir.resolve(shard).normalize().getFileName().toString(), shard);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage().startsWith(idx.toString()), e.getMessage());
            } catch (IOException e) {
                assertTrue(e.getMessage().startsWith(dir.toString()), "tried a file outside the directory: " + e); // e.g. NoSuchFile inside
            }
        } finally {
            try (var s = Files.walk(root)) {
                for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
            }
        }
    }

    @Provide
    Arbitrary<String> shardNames() {
        Arbitrary<String> part = Arbitraries.of("..", ".", "", "/", "ckpt", "inside.safetensors", "outside.safetensors", "x", "//", "\\", "~");
        return part.list().ofMinSize(1).ofMaxSize(5).map(l -> String.join("/", l));
    }

    @Property(tries = 1000, seed = "20261123")
    void arbitraryBytesFailCleanly(@ForAll byte[] bytes) {
        parseOrFailCleanly(bytes);
    }
}
