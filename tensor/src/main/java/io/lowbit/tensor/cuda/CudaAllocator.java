package io.lowbit.tensor.cuda;

import io.lowbit.tensor.BlockLedger;
import io.lowbit.tensor.DeviceMemory;
import io.lowbit.tensor.MemoryCategory;
import jcuda.runtime.JCuda;

/**
 * Device memory through a caching allocator, the CUDA twin of {@link io.lowbit.tensor.Allocator}:
 * cudaMalloc'd blocks are rounded up to 512 bytes, cached by that size when freed, and handed out again
 * (training allocates the same shapes every step, and cudaMalloc/cudaFree synchronize the device). Live
 * and peak bytes are counted per {@link MemoryCategory}. When cudaMalloc fails the cache is emptied and
 * the allocation tried once more before an OutOfMemoryError names the request and the live bytes.
 */
public final class CudaAllocator {
    private static final long ALIGN = 512;
    private static final BlockLedger<CudaPointer> LEDGER = new BlockLedger<>(2L << 30);

    private CudaAllocator() {}

    /** The size a request of {@code bytes} occupies (512-byte multiples, at least 512). */
    static long rounded(long bytes) {
        return Math.max(ALIGN, (bytes + ALIGN - 1) & ~(ALIGN - 1));
    }

    /** A block of at least {@code bytes} uninitialized device bytes, counted under {@code category}. */
    static Block allocate(long bytes, MemoryCategory category) {
        if (bytes < 0) throw new IllegalArgumentException("negative device allocation size " + bytes);
        long size = rounded(bytes);
        CudaPointer p = LEDGER.take(size, category);
        if (p == null) {
            String err = malloc(p = new CudaPointer(), size);
            if (err != null) {
                emptyCache(); // cached blocks of other sizes may be what is missing
                err = malloc(p = new CudaPointer(), size);
            }
            if (err != null) {
                LEDGER.untake(size, category);
                throw new OutOfMemoryError("lowbit CUDA allocator: cudaMalloc(" + size + ") for " + category + " failed with "
                        + err + " (live " + LEDGER.liveBytes() + " device bytes, cached " + LEDGER.cachedBytes() + ")");
            }
        }
        return new Block(p, bytes, size);
    }

    // cudaMalloc, returning null on success or the error (JCuda throws once exceptions are enabled)
    private static String malloc(CudaPointer p, long size) {
        try {
            int err = JCuda.cudaMalloc(p, size);
            return err == 0 ? null : jcuda.runtime.cudaError.stringFor(err);
        } catch (jcuda.CudaException e) {
            return e.getMessage();
        }
    }

    private static void release(Block b, MemoryCategory category) {
        if (!LEDGER.give(b.pointer, b.size, category)) JCuda.cudaFree(b.pointer);
    }

    /** cudaFree's every cached block. */
    public static void emptyCache() {
        for (CudaPointer p : LEDGER.drain()) JCuda.cudaFree(p);
    }

    /** The device ledger: live, peak and cached bytes per category (read it; allocation goes through this class). */
    public static BlockLedger<?> ledger() {
        return LEDGER;
    }

    /** Sets the cache limit; 0 frees every block on release. */
    public static void setMaxCachedBytes(long bytes) {
        if (LEDGER.setMaxCachedBytes(bytes)) emptyCache();
    }

    /** One device block: the pointer, the bytes asked for, and the rounded size it occupies. */
    static final class Block implements DeviceMemory {
        final CudaPointer pointer;
        final long bytes, size;

        Block(CudaPointer pointer, long bytes, long size) {
            this.pointer = pointer;
            this.bytes = bytes;
            this.size = size;
        }

        @Override
        public long byteSize() {
            return bytes;
        }

        @Override
        public long address() {
            return pointer.address();
        }

        @Override
        public void relabel(MemoryCategory from, MemoryCategory to) {
            LEDGER.relabel(size, from, to);
        }

        @Override
        public void release(MemoryCategory category) {
            CudaAllocator.release(this, category);
        }
    }
}
