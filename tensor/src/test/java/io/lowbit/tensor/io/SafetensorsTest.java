package io.lowbit.tensor.io;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Half;
import io.lowbit.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {
    static long live;

    @BeforeAll
    static void start() {
        live = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeaks() {
        assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked");
    }

    /** A file assembled by hand from the published format: u64 LE header size, JSON header, raw LE data. */
    static byte[] assemble(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    static byte[] le(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    @Test
    void readsAFileAssembledFromTheSpec(@TempDir Path dir) throws Exception {
        // F32 [2,3], BF16 [2] (1.0, -2.5 exactly representable), I8 [3], listed out of data order on purpose
        ByteBuffer bf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3F80).putShort((short) 0xC020);
        byte[] data = concat(le(1, 2, 3, 4, 5, 6), bf.array(), new byte[] {-7, 0, 127});
        String header = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                + "\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"c\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[28,31]}}";
        Path f = dir.resolve("x.safetensors");
        Files.write(f, assemble(header, data));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(3, st.names().size());
            Tensor a = st.tensor("a");
            assertFalse(st.isAligned("a"), "this header leaves the data unaligned: the reader must copy");
            assertArrayEquals(new int[] {2, 3}, a.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.toFloatArray());
            assertEquals(6.0, a.get(1, 2));
            Tensor b = st.tensor("b");
            assertEquals(DType.BF16, b.dtype());
            assertArrayEquals(new float[] {1f, -2.5f}, b.toFloatArray());
            Tensor c = st.tensor("c");
            assertEquals(DType.I8, c.dtype());
            assertArrayEquals(new int[] {-7, 0, 127}, c.toIntArray());
        }
    }

    @Test
    void writtenFileFollowsTheSpecByteForByte(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("w.safetensors");
        try (Tensor a = Tensor.of(new float[] {1.5f, -2f}, 2)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("a", a);
            Safetensors.write(f, m, Map.of("k", "v"));
        }
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to 8 bytes");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", header.strip());
        assertEquals(8 + n + 8, bytes.length);
        ByteBuffer d = ByteBuffer.wrap(bytes, 8 + (int) n, 8).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1.5f, d.getFloat());
        assertEquals(-2f, d.getFloat());
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temporary file left behind");
        }
    }

    @Test
    void roundTripsEveryDtypeAndOddShapes(@TempDir Path dir) throws Exception {
        Map<String, Tensor> m = new LinkedHashMap<>();
        float[] v = new float[7 * 33];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(i) * 3;
        try (Tensor f32 = Tensor.of(v, 7, 33); Tensor bf = f32.to(DType.BF16); Tensor f16 = f32.to(DType.F16);
             Tensor i8 = f32.to(DType.I8); Tensor abs = f32.abs(); Tensor u8 = abs.to(DType.U8);
             Tensor big = f32.mul(1000); Tensor i32 = big.to(DType.I32);
             Tensor scalar = Tensor.scalar(DType.F32, 42); Tensor empty = Tensor.zeros(DType.F32, 0, 5);
             Tensor tr = f32.transpose(0, 1)) {
            m.put("f32", f32);
            m.put("bf16", bf);
            m.put("f16", f16);
            m.put("i8", i8);
            m.put("u8", u8);
            m.put("i32", i32);
            m.put("scalar", scalar);
            m.put("empty", empty);
            m.put("transposed", tr);
            Path f = dir.resolve("r.safetensors");
            Safetensors.write(f, m, Map.of());
            try (SafetensorsFile st = SafetensorsFile.open(f)) {
                assertEquals(m.keySet(), st.names());
                assertTrue(st.isAligned("f32"), "our writer pads the header so F32 data is aligned and mapped in place");
                assertFalse(st.tensor("f32").storage().isOwned());
                for (Map.Entry<String, Tensor> e : m.entrySet()) {
                    Tensor got = st.tensor(e.getKey());
                    assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                    assertArrayEquals(e.getValue().toDoubleArray(), got.toDoubleArray(), e.getKey());
                }
                assertEquals(Half.fromBF16(Half.toBF16(v[5])), st.tensor("bf16").getFloat(5));
            }
        }
    }

    @Test
    void readsShardedCheckpointsThroughTheIndex(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("model-00001-of-00002.safetensors"),
                assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", le(1, 2)));
        Files.write(dir.resolve("model-00002-of-00002.safetensors"),
                assemble("{\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", le(3)));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{\"total_size\":12},\"weight_map\":{"
                + "\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\"}}");
        try (SafetensorsFile st = SafetensorsFile.open(dir)) {
            assertEquals(java.util.Set.of("x", "y"), st.names());
            assertArrayEquals(new float[] {1, 2}, st.tensor("x").toFloatArray());
            assertArrayEquals(new float[] {3}, st.tensor("y").toFloatArray());
            assertEquals("12", st.metadata().get("total_size"));
        }
    }

    @Test
    void shardIndexCannotPointOutsideItsDirectory(@TempDir Path dir) throws Exception {
        Path sub = Files.createDirectory(dir.resolve("ckpt"));
        Files.write(dir.resolve("evil.safetensors"), assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", le(1)));
        for (String target : new String[] {"../evil.safetensors", "/etc/passwd", "sub/../../evil.safetensors", ""}) {
            Files.writeString(sub.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"x\":\"" + target + "\"}}");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(sub).close());
            assertTrue(e.getMessage().contains("outside the checkpoint directory") && e.getMessage().contains("'x'"), e.getMessage());
        }
        Files.writeString(sub.resolve("model.safetensors.index.json"), "[1, 2]");
        assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(sub).close());
    }

    @Test
    void indexNamingATensorItsShardLacksIsAnError(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("a.safetensors"), assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", le(1)));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"x\":\"a.safetensors\",\"z\":\"a.safetensors\"}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(dir).close());
        assertTrue(e.getMessage().contains("'z'"), e.getMessage());
    }

    /** Writes the bytes and expects opening to fail with a message containing every fragment. */
    static void rejects(Path dir, byte[] bytes, String... fragments) throws Exception {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, bytes);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()), "message names the file: " + e.getMessage());
        for (String frag : fragments) assertTrue(e.getMessage().contains(frag), "'" + frag + "' missing from: " + e.getMessage());
    }

    @Test
    void hostileFilesAreRejectedWithClearMessages(@TempDir Path dir) throws Exception {
        String ok = "\"dtype\":\"F32\",\"shape\":[2],";
        // header length larger than the file
        ByteBuffer big = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).putLong(0);
        rejects(dir, big.array(), "header length 1099511627776", "offset 0");
        ByteBuffer neg = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5).putLong(0);
        rejects(dir, neg.array(), "header length -5");
        rejects(dir, new byte[] {1, 2, 3}, "3 bytes");
        // non-object JSON, malformed JSON
        rejects(dir, assemble("[1,2,3]", new byte[0]), "expected a JSON object");
        rejects(dir, assemble("{\"a\":", new byte[0]), "invalid JSON at offset");
        rejects(dir, assemble("{\"a\":5}", new byte[0]), "'a'", "must be an object");
        // duplicate names
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[0,8]},\"a\":{" + ok + "\"data_offsets\":[8,16]}}", le(1, 2, 3, 4)),
                "duplicate key \"a\"");
        // offsets out of range
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[0,80]}}", le(1, 2)), "'a'", "[0, 80]", "out of range");
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[8,0]}}", le(1, 2)), "'a'", "[8, 0]");
        // offsets not matching dtype × shape
        rejects(dir, assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", le(1, 2)), "'a'", "needs 12");
        // overlapping tensors
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[0,8]},\"b\":{" + ok + "\"data_offsets\":[4,12]}}", le(1, 2, 3)),
                "'b'", "offset 4", "overlaps");
        // a gap and trailing bytes
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[4,12]}}", le(1, 2, 3)), "'a'", "offset 4");
        rejects(dir, assemble("{\"a\":{" + ok + "\"data_offsets\":[0,8]}}", le(1, 2, 3)), "trailing");
        // bad dtype / shape / metadata
        rejects(dir, assemble("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", le(1, 2)), "'a'", "Q4");
        rejects(dir, assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", le(1, 2)), "'a'", "-2");
        rejects(dir, assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", le(1, 2)), "'a'");
        rejects(dir, assemble("{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__");
    }

    @Test
    void tensorsViewTheMappingUntilClose(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("m.safetensors");
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        while (header.length() % 8 != 0) header += " "; // trailing spaces are allowed; keeps the data aligned
        Files.write(f, assemble(header, le(9)));
        Tensor t;
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            t = st.tensor("a");
            assertFalse(t.storage().isOwned(), "mapped, not copied");
            assertEquals(9.0, t.getDouble(0));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.tensor("nope"));
            assertTrue(e.getMessage().contains("'nope'"));
        }
        assertThrows(IllegalStateException.class, () -> t.getDouble(0));
    }
}
