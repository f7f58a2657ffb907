package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Hand-written hostile llama2.c {@code .bin} files: each fails naming the file, the field and the value. */
@ExtendWith(NoLeaks.class)
class Llama2cHostileTest {
    @TempDir static Path tmp;

    static Path header(String name, int extraBytes, int... h) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * h.length + extraBytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : h) b.putInt(v);
        Path p = tmp.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    static void fails(Path p, String... mustContain) {
        Exception e = assertThrows(Exception.class, () -> Checkpoints.load(p).close());
        assertTrue(e instanceof IOException || e instanceof IllegalArgumentException, e.toString());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
    }

    @Test
    void negativeZeroAndHugeDims() throws IOException {
        fails(header("neg.bin", 0, -8, 16, 1, 2, 1, 11, 4), "dim", "-8");
        fails(header("zero.bin", 0, 8, 0, 1, 2, 1, 11, 4), "hidden_dim", "0");
        fails(header("zerovocab.bin", 0, 8, 16, 1, 2, 1, 0, 4), "vocab_size", "0");
        fails(header("huge.bin", 0, 8, 16, Integer.MAX_VALUE, 2, 1, 11, 4), "n_layers", String.valueOf(Integer.MAX_VALUE));
        fails(header("minvocab.bin", 0, 8, 16, 1, 2, 1, Integer.MIN_VALUE, 4), "vocab_size", String.valueOf(Integer.MIN_VALUE));
    }

    @Test
    void headsNotDividing() throws IOException {
        fails(header("heads.bin", 0, 8, 16, 1, 3, 1, 11, 4), "n_heads", "3");
        fails(header("kv.bin", 0, 8, 16, 1, 4, 3, 11, 4), "n_kv_heads", "3");
        fails(header("odd.bin", 0, 6, 16, 1, 2, 1, 11, 4), "head_dim", "3");
    }

    @Test
    void truncatedHeader() throws IOException {
        Path p = tmp.resolve("short.bin");
        Files.write(p, new byte[]{1, 0, 0, 0, 2});
        fails(p, "5 bytes");
    }

    @Test
    void headerClaimsMoreBytesThanTheFile() throws IOException {
        fails(header("claims.bin", 64, 8, 16, 1, 2, 1, 11, 4), "needs", "the file has " + (28 + 64));
    }

    /** Regression (found while writing these cases): the byte count overflowed a long and was reported as trailing bytes. */
    @Test
    void byteCountOverflowingALongIsReportedAsTooLarge() throws IOException {
        int m = LlamaConfig.MAX_DIM;
        fails(header("overflow.bin", 0, m, m, m, 2, 1, 1, 1), "too large");
    }

    @Test
    void truncatedAndTrailingWeights() throws IOException {
        LlamaConfig c = LlamaConfig.of(8, 16, 2, 1, 1, 11, 4, 1e-5, 10000, true);
        Path good = tmp.resolve("good.bin");
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, 1)) {
            Llama2cCheckpoint.write(good, w);
        }
        byte[] bytes = Files.readAllBytes(good);
        assertEquals(Llama2cCheckpoint.fileSize(c), bytes.length);
        Path cut = tmp.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 3));
        fails(cut, "truncated", String.valueOf(bytes.length - 3));
        Path longer = tmp.resolve("long.bin");
        Files.write(longer, Arrays.copyOf(bytes, bytes.length + 5));
        fails(longer, "5 unexpected trailing bytes", String.valueOf(bytes.length));
        Checkpoints.load(good).close();
    }
}
