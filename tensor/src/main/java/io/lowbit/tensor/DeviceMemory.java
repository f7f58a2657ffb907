package io.lowbit.tensor;

/**
 * Bytes that live on an accelerator, held by a {@link Storage} whose device is not {@link Device#CPU}.
 * The backend that made the block implements this; the tensor core only asks its size and hands it back.
 */
public interface DeviceMemory {
    /** Requested size in bytes. */
    long byteSize();

    /** The device address of byte 0. */
    long address();

    /** Moves the block's bytes between categories in the device allocator's counters. */
    void relabel(MemoryCategory from, MemoryCategory to);

    /** Returns the block to the device allocator (called once, by {@link Storage#close()}). */
    void release(MemoryCategory category);
}
