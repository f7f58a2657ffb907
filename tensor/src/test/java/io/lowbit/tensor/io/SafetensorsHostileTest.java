package io.lowbit.tensor.io;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Allocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hand-written hostile safetensors headers and index files: each must fail with an
 * {@link IllegalArgumentException} (or {@link IOException} for unreadable files) whose message names the
 * file, the field or tensor, and the offending value.
 */
class SafetensorsHostileTest {
    private static long live;

    @BeforeAll
    static void start() { live = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(live, Allocator.liveBytes(), "off-heap bytes leaked"); }

    static byte[] file(long headerLen, byte[] json, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLen).put(json);
        return b.array();
    }

    static byte[] file(String json, int dataBytes) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        return file(j.length, j, dataBytes);
    }

    static String fails(byte[] bytes, String... mustContain) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Safetensors.parseHeader(MemorySegment.ofArray(bytes), bytes.length, "evil.safetensors"));
        assertTrue(e.getMessage().startsWith("evil.safetensors"), e.getMessage());
        for (String s : mustContain) assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void headerLengthLargerThanFile() { fails(file(1000, "{}".getBytes(), 0), "header length 1000", "10 bytes"); }

    @Test
    void headerLengthAbsurd() { fails(file(1L << 62, "{}".getBytes(), 0), "header length " + (1L << 62)); }

    @Test
    void headerLengthNegative() { fails(file(-5, "{}".getBytes(), 0), "header length -5"); }

    @Test
    void shorterThanEightBytes() {
        byte[] b = {1, 2, 3};
        fails(b, "3 bytes");
    }

    @Test
    void offsetsOutOfRange() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", 4), "'a'", "[0, 400]");
    }

    @Test
    void beginAfterEnd() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4), "'a'", "[4, 0]");
    }

    @Test
    void negativeOffset() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4), "'a'", "[-4, 0]");
    }

    @Test
    void overlappingTensors() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "'b'", "overlaps", "4");
    }

    @Test
    void dtypeShapeByteCountMismatch() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'a'", "needs 12");
    }

    @Test
    void negativeDimension() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "'a'", "dimension -1");
    }

    @Test
    void hugeDimensionsWhoseProductOverflows() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}", 4), "'a'", "overflows");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999],\"data_offsets\":[0,4]}}", 4), "'a'", "99999999999");
        // numel fits a long but numel * 8 bytes does not
        fails(file("{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,1],\"data_offsets\":[0,8]}}", 8), "'a'", "[0, 8]");
    }

    @Test
    void nonUtf8HeaderBytes() {
        byte[] json = {'{', '"', (byte) 0xff, (byte) 0xfe, '"', ':', '1', '}'};
        String msg = fails(file(json.length, json, 0));
        assertTrue(msg.contains("must be an object") || msg.contains("UTF-8"), msg);
    }

    /** Regression: invalid UTF-8 in a tensor name was decoded to U+FFFD and the file was accepted under a different name. */
    @Test
    void nonUtf8TensorNameIsRejectedNotRenamed() {
        byte[] head = "{\"a?\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".getBytes(StandardCharsets.US_ASCII);
        head[3] = (byte) 0xff; // the '?' after 'a'
        fails(file(head.length, head, 4), "not valid UTF-8", "bytes 8..");
    }

    @Test
    void deeplyNestedJson() {
        String deep = "{\"a\":" + "[".repeat(200_000) + "]".repeat(200_000) + "}";
        fails(file(deep, 0), "nest");
    }

    @Test
    void duplicateNames() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "a");
    }

    @Test
    void wrongJsonTypes() {
        fails(file("{\"a\":[1,2]}", 0), "'a'", "must be an object");
        fails(file("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'a'", "dtype");
        fails(file("{\"a\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'a'", "Q9");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4), "'a'", "shape");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), "'a'", "1.5");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4), "'a'", "data_offsets");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4), "'a'", "data_offsets");
        fails(file("[1,2,3]", 0));
    }

    @Test
    void metadataNotStringToString() {
        fails(file("{\"__metadata__\":[\"x\"]}", 0), "__metadata__");
        fails(file("{\"__metadata__\":{\"k\":3}}", 0), "__metadata__", "\"k\"", "3");
        fails(file("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0), "__metadata__", "\"k\"");
    }

    @Test
    void trailingBytesAfterTensors() {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9), "9 after the header");
    }

    // ---- sharded index files ----

    static void shard(Path p) throws IOException {
        Files.write(p, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
    }

    static IllegalArgumentException indexFails(Path dir, String weightMap) throws IOException {
        Path idx = dir.resolve("model.safetensors.index.json");
        Files.writeString(idx, "{\"weight_map\":" + weightMap + "}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(idx).close());
        assertTrue(e.getMessage().contains(idx.toString()), e.getMessage());
        return e;
    }

    @Test
    void indexPointingOutsideItsDirectory(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("ckpt"));
        shard(tmp.resolve("outside.safetensors"));
        assertTrue(indexFails(dir, "{\"w\":\"../outside.safetensors\"}").getMessage().contains("../outside.safetensors"));
        String abs = tmp.resolve("outside.safetensors").toAbsolutePath().toString();
        assertTrue(indexFails(dir, "{\"w\":\"" + abs.replace("\\", "\\\\") + "\"}").getMessage().contains("outside"));
        assertTrue(indexFails(dir, "{\"w\":\"sub/../../outside.safetensors\"}").getMessage().contains("'w'"));
        assertTrue(indexFails(dir, "{\"w\":\"\"}").getMessage().contains("'w'"));
    }

    /**
     * Policy, not a bug: the index text may only name files inside its directory (checked above), but a
     * symbolic link that the directory's owner placed there is followed, because the Hugging Face hub cache
     * stores every snapshot file as a link to ../../blobs/. The index cannot create links, so it cannot escape.
     */
    @Test
    void symlinkPlacedInDirectoryIsFollowedAsInTheHubCache(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("ckpt"));
        shard(tmp.resolve("outside.safetensors"));
        Files.createSymbolicLink(dir.resolve("link.safetensors"), tmp.resolve("outside.safetensors"));
        Path idx = dir.resolve("model.safetensors.index.json");
        Files.writeString(idx, "{\"weight_map\":{\"w\":\"link.safetensors\"}}");
        try (SafetensorsFile f = SafetensorsFile.open(idx)) {
            assertEquals(java.util.Set.of("w"), f.names());
        }
    }

    @Test
    void indexNamingTensorMissingFromShard(@TempDir Path tmp) throws IOException {
        shard(tmp.resolve("a.safetensors"));
        IllegalArgumentException e = indexFails(tmp, "{\"w\":\"a.safetensors\",\"ghost\":\"a.safetensors\"}");
        assertTrue(e.getMessage().contains("'ghost'") && e.getMessage().contains("a.safetensors"), e.getMessage());
    }

    @Test
    void indexWithWrongTypes(@TempDir Path tmp) throws IOException {
        shard(tmp.resolve("a.safetensors"));
        assertTrue(indexFails(tmp, "{\"w\":3}").getMessage().contains("'w'"));
        assertTrue(indexFails(tmp, "[\"a.safetensors\"]").getMessage().contains("weight_map"));
    }

    @Test
    void indexShardThatDoesNotExist(@TempDir Path tmp) throws IOException {
        Path idx = tmp.resolve("model.safetensors.index.json");
        Files.writeString(idx, "{\"weight_map\":{\"w\":\"nope.safetensors\"}}");
        IOException e = assertThrows(IOException.class, () -> SafetensorsFile.open(idx).close());
        assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
    }
}
