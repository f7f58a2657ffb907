package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.Allocator;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Seeded, bounded fuzzing of the llama2.c reader: a tiny valid {@code .bin} is mutated (header-field
 * rewrites, bit flips, truncations, byte insertions) and reading it must either succeed or throw an
 * {@link IOException}/{@link IllegalArgumentException} naming the file.
 */
class Llama2cFuzzTest {
    private static byte[] valid;
    private static Path dir;
    private static long live;

    @BeforeContainer
    static void build() throws IOException {
        live = Allocator.liveBytes();
        dir = Files.createTempDirectory("l2c-fuzz");
        LlamaConfig c = LlamaConfig.of(8, 16, 2, 1, 1, 11, 4, 1e-5, 10000, true);
        Path p = dir.resolve("valid.bin");
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 7)) {
            Llama2cCheckpoint.write(p, w);
        }
        valid = Files.readAllBytes(p);
    }

    @AfterContainer
    static void done() throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) Files.delete(p);
        }
        Files.delete(dir);
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked");
    }

    static void readOrFailCleanly(byte[] bytes) throws IOException {
        Path p = dir.resolve("fuzz.bin");
        Files.write(p, bytes);
        try {
            Llama2cCheckpoint.read(p).close();
        } catch (IOException | IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        }
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, valid.length - 1);
        Arbitrary<Integer> field = Arbitraries.integers().between(0, 6);
        Arbitrary<Integer> value = Arbitraries.oneOf(Arbitraries.integers(), Arbitraries.integers().between(-3, 40),
                Arbitraries.of(LlamaConfig.MAX_DIM, LlamaConfig.MAX_DIM + 1, Integer.MIN_VALUE, Integer.MAX_VALUE));
        return Combinators.combine(pos, field, value, Arbitraries.integers().between(0, 3)).as((p, f, v, kind) -> {
            byte[] b;
            switch (kind) {
                case 0 -> { b = valid.clone(); ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4 * f, v); }
                case 1 -> { b = valid.clone(); b[p % 28] ^= (byte) (1 << (v & 7)); }
                case 2 -> b = Arrays.copyOf(valid, p);
                default -> { b = new byte[valid.length + 1]; System.arraycopy(valid, 0, b, 0, p); b[p] = (byte) (int) v;
                    System.arraycopy(valid, p, b, p + 1, valid.length - p); }
            }
            return b;
        });
    }

    @Property(tries = 1500, seed = "20261123")
    void mutatedCheckpointsReadOrFailCleanly(@ForAll("mutated") byte[] bytes) throws IOException {
        readOrFailCleanly(bytes);
    }

    @Property(tries = 500, seed = "20261123")
    void arbitraryHeadersFailCleanly(@ForAll int a, @ForAll int b, @ForAll int c, @ForAll int d, @ForAll int e) throws IOException {
        byte[] bytes = valid.clone();
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(0, a).putInt(4, b).putInt(8, c).putInt(12, d).putInt(16, e);
        readOrFailCleanly(bytes);
    }
}
