package io.lowbit.tensor.io;

import io.lowbit.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An opened safetensors checkpoint: one file, or the shards listed by a {@code model.safetensors.index.json}.
 * Files are memory-mapped into an arena this object owns; {@link #tensor(String)} wraps the mapped bytes
 * without copying, so those tensors are valid only until {@link #close()}.
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final Map<String, Located> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> alignedCopies = new LinkedHashMap<>();
    private final String source;

    private record Located(Path file, MemorySegment data, Safetensors.Entry entry) {}

    private SafetensorsFile(String source) {
        this.source = source;
    }

    /**
     * Opens a checkpoint: a {@code .safetensors} file, an index {@code *.safetensors.index.json}, or a
     * directory holding {@code model.safetensors.index.json} or {@code model.safetensors}.
     */
    public static SafetensorsFile open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path index = path.resolve("model.safetensors.index.json");
            if (Files.exists(index)) return open(index);
            Path single = path.resolve("model.safetensors");
            if (Files.exists(single)) return open(single);
            throw new IOException(path + ": directory has neither model.safetensors.index.json nor model.safetensors");
        }
        SafetensorsFile f = new SafetensorsFile(path.toString());
        try {
            if (path.getFileName().toString().endsWith(".index.json")) f.openIndex(path);
            else f.openShard(path, null);
            return f;
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private void openIndex(Path index) throws IOException {
        String src = index.toString();
        Map<String, Object> root;
        try {
            root = Json.parseObject(Files.readString(index, StandardCharsets.UTF_8), src);
        } catch (Json.JsonException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (root.get("metadata") instanceof Map<?, ?> md)
            for (Map.Entry<?, ?> e : md.entrySet()) metadata.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
        if (!(root.get("weight_map") instanceof Map<?, ?> wm))
            throw new IllegalArgumentException(src + ": missing \"weight_map\" object");
        Path dir = index.toAbsolutePath().getParent().normalize();
        Map<String, Map<String, Boolean>> wanted = new LinkedHashMap<>(); // shard -> tensor names
        for (Map.Entry<?, ?> e : wm.entrySet()) {
            String name = (String) e.getKey();
            if (!(e.getValue() instanceof String shard))
                throw new IllegalArgumentException(src + ": weight_map entry for tensor '" + name + "' must be a file name, got " + e.getValue());
            Path p = dir.resolve(shard).normalize();
            if (shard.isEmpty() || Path.of(shard).isAbsolute() || !p.getParent().equals(dir))
                throw new IllegalArgumentException(src + ": weight_map entry for tensor '" + name + "' points to '" + shard
                        + "', outside the checkpoint directory " + dir);
            wanted.computeIfAbsent(shard, k -> new LinkedHashMap<>()).put(name, Boolean.TRUE);
        }
        for (Map.Entry<String, Map<String, Boolean>> e : wanted.entrySet())
            openShard(dir.resolve(e.getKey()), e.getValue().keySet());
        for (Map.Entry<String, Map<String, Boolean>> e : wanted.entrySet())
            for (String name : e.getValue().keySet())
                if (!tensors.containsKey(name) || !tensors.get(name).file.getFileName().toString().equals(e.getKey()))
                    throw new IllegalArgumentException(src + ": weight_map says tensor '" + name + "' is in " + e.getKey() + ", but it is not there");
    }

    private void openShard(Path file, Set<String> listed) throws IOException {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            seg = ch.size() == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        long size = seg.byteSize();
        Safetensors.Header h = Safetensors.parseHeader(seg, size, file.toString());
        if (listed == null) metadata.putAll(h.metadata());
        MemorySegment data = seg.asSlice(h.dataStart());
        for (Safetensors.Entry e : h.entries()) {
            if (listed != null && !listed.contains(e.name())) continue; // the index decides which shard owns a name
            Located old = tensors.putIfAbsent(e.name(), new Located(file, data, e));
            if (old != null)
                throw new IllegalArgumentException(file + ": tensor '" + e.name() + "' is also in " + old.file);
        }
    }

    /** Tensor names in file order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    /** True if the checkpoint holds {@code name}. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The header entry (dtype, shape, offsets) of {@code name}. */
    public Safetensors.Entry entry(String name) {
        return locate(name).entry;
    }

    /** The {@code __metadata__} strings (for a sharded checkpoint, the index's {@code metadata}). */
    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * A tensor viewing the mapped bytes of {@code name} (no copy; not owned by the caller; valid until
     * {@link #close()}). The format does not align tensors, so one whose bytes are not aligned to its element
     * size is copied once into an aligned buffer that this object owns and frees on close. Copy the result
     * ({@link Tensor#copy()} or {@link Tensor#to}) to keep it longer.
     */
    public synchronized Tensor tensor(String name) {
        Located l = locate(name);
        Safetensors.Entry e = l.entry;
        MemorySegment bytes = l.data.asSlice(e.begin(), e.end() - e.begin());
        if (bytes.address() % e.dtype().bytes == 0) return Tensor.wrap(bytes, e.dtype(), e.shape());
        Tensor copy = alignedCopies.get(name);
        if (copy == null) {
            copy = Tensor.empty(e.dtype(), io.lowbit.tensor.MemoryCategory.WEIGHTS, e.shape());
            MemorySegment.copy(bytes, 0, copy.segment(), 0, bytes.byteSize());
            alignedCopies.put(name, copy);
        }
        return copy.view(e.shape());
    }

    /** True if the bytes of {@code name} sit at an address aligned to its element size (so no copy is made). */
    public boolean isAligned(String name) {
        Located l = locate(name);
        return l.data.address() % l.entry.dtype().bytes == 0 && l.entry.begin() % l.entry.dtype().bytes == 0;
    }

    private Located locate(String name) {
        Located l = tensors.get(name);
        if (l == null) throw new IllegalArgumentException(source + ": no tensor named '" + name + "'");
        return l;
    }

    /** Unmaps every file; tensors from {@link #tensor(String)} become unusable. */
    @Override
    public synchronized void close() {
        for (Tensor t : alignedCopies.values()) t.close();
        alignedCopies.clear();
        arena.close();
    }
}
