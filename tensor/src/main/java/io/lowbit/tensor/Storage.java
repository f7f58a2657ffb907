package io.lowbit.tensor;

import java.lang.foreign.MemorySegment;

/**
 * One allocator block: 64-byte aligned off-heap bytes with a category, shared by a tensor and all its
 * views. {@link #close()} returns the block to the {@link Allocator} (idempotent); after that every
 * tensor viewing it throws on use.
 */
public final class Storage implements AutoCloseable {
    private final MemorySegment segment;
    private final Allocator.Block block; // null for storage we do not own (mapped files, wrapped heap)
    private volatile MemoryCategory category;
    private volatile boolean closed;
    private final Device device;
    private final DeviceMemory deviceMemory; // non-null only for accelerator memory

    Storage(Allocator.Block block, MemoryCategory category) {
        this.block = block;
        this.segment = block.segment();
        this.category = category;
        this.device = Device.CPU;
        this.deviceMemory = null;
    }

    /** Wraps bytes owned elsewhere (a memory-mapped file, a device buffer's host mirror); close is a no-op. */
    public Storage(MemorySegment segment, MemoryCategory category, Device device) {
        this.block = null;
        this.segment = segment;
        this.category = category;
        this.device = device;
        this.deviceMemory = null;
    }

    /** Holds accelerator memory; {@link #close()} hands it back to its allocator, {@link #segment()} refuses. */
    public Storage(DeviceMemory memory, MemoryCategory category, Device device) {
        if (device == Device.CPU) throw new IllegalArgumentException("device memory cannot live on the CPU");
        this.block = null;
        this.segment = null;
        this.deviceMemory = memory;
        this.category = category;
        this.device = device;
    }

    /** The accelerator block, or null for host storage. */
    public DeviceMemory deviceMemory() {
        if (closed) throw new IllegalStateException("tensor storage used after close");
        return deviceMemory;
    }

    /** The bytes (its size is the requested size, not the block's). */
    public MemorySegment segment() {
        if (closed) throw new IllegalStateException("tensor storage used after close");
        if (deviceMemory != null)
            throw new IllegalStateException("tensor storage lives on " + device + ", not in host memory; copy it to the CPU first (Devices.to(t, Device.CPU))");
        return segment;
    }

    public long byteSize() {
        return deviceMemory != null ? deviceMemory.byteSize() : segment.byteSize();
    }

    public MemoryCategory category() {
        return category;
    }

    public Device device() {
        return device;
    }

    public boolean isClosed() {
        return closed;
    }

    /** True when this storage came from our allocator (and so counts in its live bytes). */
    public boolean isOwned() {
        return block != null;
    }

    /** Moves this storage's bytes to another category in the allocator's counters. */
    public void relabel(MemoryCategory to) {
        if (block != null && to != category && !closed) Allocator.relabel(segment.byteSize(), category, to);
        if (deviceMemory != null && to != category && !closed) deviceMemory.relabel(category, to);
        category = to;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        if (block != null) Allocator.release(block, category);
        if (deviceMemory != null) deviceMemory.release(category);
    }
}
