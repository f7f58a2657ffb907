package io.lowbit.tensor.io;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets
 * relative to the data section, which follows the header) plus an optional {@code "__metadata__"} map of
 * strings, then the data: tensors back to back, little-endian, row-major, no gaps. This class parses and
 * checks headers and writes files; {@link SafetensorsFile} maps them for reading.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Largest header we accept (the reference implementation's limit is 100 MB). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    /** One tensor's header entry; {@code begin}/{@code end} are byte offsets into the data section. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        /** Number of elements. */
        public long numel() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
        }
    }

    /** A parsed, validated header: entries in data order, the metadata, and where the data section starts. */
    public record Header(List<Entry> entries, Map<String, String> metadata, long dataStart) {}

    /**
     * Reads and checks the header of a safetensors file whose first bytes are {@code bytes}
     * ({@code fileSize} long). Every violation throws naming the file, the tensor and the offset.
     */
    public static Header parseHeader(MemorySegment bytes, long fileSize, String file) {
        if (fileSize < 8) throw new IllegalArgumentException(file + ": not a safetensors file: " + fileSize + " bytes, the 8-byte header length is missing");
        long n = bytes.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 2 || n > fileSize - 8)
            throw new IllegalArgumentException(file + ": header length " + n + " (at offset 0) does not fit in a file of " + fileSize + " bytes");
        if (n > MAX_HEADER_BYTES)
            throw new IllegalArgumentException(file + ": header length " + n + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
        byte[] json = bytes.asSlice(8, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        String text;
        try { // strict: a replacement character would silently rename a tensor
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(json)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": safetensors header (bytes 8.." + (8 + n) + ") is not valid UTF-8", e);
        }
        Map<String, Object> root;
        try {
            root = Json.parseObject(text, file + " (safetensors header)");
        } catch (Json.JsonException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        long dataStart = 8 + n, dataSize = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m))
                    throw new IllegalArgumentException(file + ": \"__metadata__\" must be an object of strings, got " + e.getValue());
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String s))
                        throw new IllegalArgumentException(file + ": __metadata__ value for \"" + me.getKey() + "\" must be a string, got " + me.getValue());
                    metadata.put((String) me.getKey(), s);
                }
                continue;
            }
            entries.add(entry(name, e.getValue(), dataSize, file));
        }
        entries.sort((a, b) -> Long.compare(a.begin, b.begin));
        long expect = 0;
        for (Entry en : entries) {
            if (en.begin < expect) throw new IllegalArgumentException(file + ": tensor '" + en.name + "' at data offset " + en.begin
                    + " overlaps the previous tensor, which ends at " + expect);
            if (en.begin > expect) throw new IllegalArgumentException(file + ": tensor '" + en.name + "' starts at data offset " + en.begin
                    + " but the previous tensor ends at " + expect + " (the format allows no gaps)");
            expect = en.end;
        }
        if (expect != dataSize)
            throw new IllegalArgumentException(file + ": tensors cover " + expect + " data bytes but the file holds " + dataSize
                    + " after the header (truncated or trailing bytes)");
        return new Header(List.copyOf(entries), Map.copyOf(metadata), dataStart);
    }

    private static Entry entry(String name, Object v, long dataSize, String file) {
        if (!(v instanceof Map<?, ?> m))
            throw new IllegalArgumentException(file + ": header entry for tensor '" + name + "' must be an object, got " + v);
        if (!(m.get("dtype") instanceof String dt))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' has no string \"dtype\"");
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dt);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "': " + ex.getMessage(), ex);
        }
        if (!(m.get("shape") instanceof List<?> sl))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' has no \"shape\" list");
        int[] shape = new int[sl.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(sl.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                throw new IllegalArgumentException(file + ": tensor '" + name + "' has an invalid dimension " + sl.get(i) + " in shape " + sl);
            shape[i] = (int) (long) d;
            if (d != 0 && numel > Long.MAX_VALUE / d)
                throw new IllegalArgumentException(file + ": tensor '" + name + "' shape " + sl + " overflows");
            numel *= d;
        }
        if (!(m.get("data_offsets") instanceof List<?> ol) || ol.size() != 2 || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long en))
            throw new IllegalArgumentException(file + ": tensor '" + name + "' needs \"data_offsets\": [begin, end] as integers, got " + m.get("data_offsets"));
        if (b < 0 || en < b || en > dataSize)
            throw new IllegalArgumentException(file + ": tensor '" + name + "' data_offsets [" + b + ", " + en
                    + "] are out of range for a data section of " + dataSize + " bytes");
        if (numel > Long.MAX_VALUE / dtype.bytes || en - b != numel * dtype.bytes)
            throw new IllegalArgumentException(file + ": tensor '" + name + "' data_offsets [" + b + ", " + en + "] hold " + (en - b)
                    + " bytes but " + dtype + Arrays.toString(shape) + " needs " + numel * dtype.bytes);
        for (Object k : m.keySet())
            if (!k.equals("dtype") && !k.equals("shape") && !k.equals("data_offsets"))
                throw new IllegalArgumentException(file + ": tensor '" + name + "' has unknown header key \"" + k + "\"");
        return new Entry(name, dtype, shape, b, en);
    }

    /**
     * Writes {@code tensors} (in map order) and {@code metadata} to {@code file} atomically: the bytes go to
     * a temporary file in the same directory, which is then moved over {@code file} in one step.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long off = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' cannot name a tensor");
            Tensor t = e.getValue();
            long bytes = t.numel() * t.dtype().bytes;
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("dtype", t.dtype().safetensorsName());
            h.put("shape", t.shape());
            h.put("data_offsets", List.of(off, off + bytes));
            header.put(e.getKey(), h);
            off += bytes;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
                AtomicFiles.write(file, out -> {
            out.write(head.array());
            for (Tensor t : tensors.values()) writeData(out, t);
        });
    }

    private static void writeData(OutputStream out, Tensor t) throws IOException {
        Tensor c = t.contiguous();
        try {
            long bytes = c.numel() * c.dtype().bytes;
            MemorySegment src = c.segment().asSlice(c.byteOffset(), bytes);
            byte[] buf = new byte[(int) Math.min(bytes, 1 << 20)];
            for (long off = 0; off < bytes; off += buf.length) {
                int n = (int) Math.min(buf.length, bytes - off);
                MemorySegment.copy(src, java.lang.foreign.ValueLayout.JAVA_BYTE, off, buf, 0, n);
                out.write(buf, 0, n);
            }
        } finally {
            if (c != t) c.close();
        }
    }
}
