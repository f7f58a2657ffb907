package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.tokenizer.SentencePieceTokenizer;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Seeded, bounded fuzzing of the SentencePiece {@code .model} reader: the tiny test model is mutated (bit
 * flips, truncations, byte insertions, varint rewrites) and parsing must either succeed — and then encode and
 * decode without crashing — or throw an {@link IllegalArgumentException} naming the source.
 */
class SentencePieceFuzzTest {
    private static byte[] valid;

    @BeforeContainer
    static void load() throws IOException {
        try (InputStream in = SentencePieceTokenizer.class.getResourceAsStream("tiny-bpe.model")) {
            assertNotNull(in, "test resource io/lowbit/models/tokenizer/tiny-bpe.model");
            valid = in.readAllBytes();
        }
    }

    static void parseOrFailCleanly(byte[] bytes) {
        SentencePieceTokenizer t;
        try {
            t = SentencePieceTokenizer.parse(bytes, "fuzz.model");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.model"), e.getMessage());
            return;
        }
        try {
            int[] ids = t.encode("Hello wörld 123 ☃", false, false);
            t.decode(ids);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().startsWith("fuzz.model"), e.getMessage());
        }
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<Integer> pos = Arbitraries.integers().between(0, valid.length - 1);
        Arbitrary<Byte> by = Arbitraries.oneOf(Arbitraries.bytes(), Arbitraries.of((byte) 0x80, (byte) 0xff, (byte) 0x7f, (byte) 0, (byte) 0x0a, (byte) 0x12));
        return Combinators.combine(pos, by, Arbitraries.integers().between(0, 7), Arbitraries.integers().between(0, 3)).as((p, v, k, kind) -> {
            byte[] b;
            switch (kind) {
                case 0 -> { b = valid.clone(); b[p] ^= (byte) (1 << k); }
                case 1 -> b = Arrays.copyOf(valid, p);
                case 2 -> { b = new byte[valid.length + 1]; System.arraycopy(valid, 0, b, 0, p); b[p] = v;
                    System.arraycopy(valid, p, b, p + 1, valid.length - p); }
                default -> { // a run of continuation bytes: huge / overlong varints
                    b = valid.clone();
                    for (int i = p; i < Math.min(b.length, p + 1 + k); i++) b[i] = (byte) 0xff;
                }
            }
            return b;
        });
    }

    @Property(tries = 3000, seed = "20261123")
    void mutatedModelsParseOrFailCleanly(@ForAll("mutated") byte[] bytes) {
        parseOrFailCleanly(bytes);
    }

    @Property(tries = 1000, seed = "20261123")
    void arbitraryBytesFailCleanly(@ForAll byte[] bytes) {
        parseOrFailCleanly(bytes);
    }
}
