package io.lowbit.tensor.cuda;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.runtime.JCuda;
import jcuda.runtime.cudaEvent_t;
import jcuda.runtime.cudaMemcpyKind;
import jcuda.runtime.cudaStream_t;

/**
 * Host↔device copies straight from and to our MemorySegments. Small copies go through
 * {@code Pointer.to(segment.asByteBuffer())} (a ByteBuffer holds at most 2 GiB, so copies are cut into
 * 1 GiB chunks). Copies of {@link #STAGED_FROM} bytes or more go through two pinned staging buffers on a
 * copy stream: while the DMA engine moves one buffer, the CPU fills (or drains) the other, which is
 * where pinned memory pays (pageable copies run at roughly half the bus speed).
 */
final class Transfers {
    private Transfers() {}

    /** Largest chunk handed to one cudaMemcpy from a ByteBuffer. */
    static final long CHUNK = 1L << 30;
    /** Size of each pinned staging buffer. */
    static final long STAGE = 8L << 20;
    /** Copies this large or larger use pinned staging. */
    static final long STAGED_FROM = 16L << 20;

    private static Pointer pinned0, pinned1;
    private static MemorySegment stage0, stage1;
    private static cudaStream_t stream;
    private static cudaEvent_t event0, event1;

    /** Copies {@code bytes} from host {@code src} at {@code srcOff} to device {@code dst} at {@code dstOff}. */
    static void upload(MemorySegment src, long srcOff, Pointer dst, long dstOff, long bytes) {
        if (bytes == 0) return;
        if (bytes >= STAGED_FROM && src.isNative()) {
            stagedUpload(src, srcOff, dst, dstOff, bytes);
            return;
        }
        for (long done = 0; done < bytes; done += CHUNK) {
            long n = Math.min(CHUNK, bytes - done);
            Pointer host = Pointer.to(src.asSlice(srcOff + done, n).asByteBuffer());
            JCuda.cudaMemcpy(dst.withByteOffset(dstOff + done), host, n, cudaMemcpyKind.cudaMemcpyHostToDevice);
        }
    }

    /** Copies {@code bytes} from device {@code src} at {@code srcOff} to host {@code dst} at {@code dstOff}. */
    static void download(Pointer src, long srcOff, MemorySegment dst, long dstOff, long bytes) {
        if (bytes == 0) return;
        if (bytes >= STAGED_FROM && dst.isNative()) {
            stagedDownload(src, srcOff, dst, dstOff, bytes);
            return;
        }
        for (long done = 0; done < bytes; done += CHUNK) {
            long n = Math.min(CHUNK, bytes - done);
            Pointer host = Pointer.to(dst.asSlice(dstOff + done, n).asByteBuffer());
            JCuda.cudaMemcpy(host, src.withByteOffset(srcOff + done), n, cudaMemcpyKind.cudaMemcpyDeviceToHost);
        }
    }

    /** Device-to-device copy. */
    static void deviceCopy(Pointer src, long srcOff, Pointer dst, long dstOff, long bytes) {
        if (bytes == 0) return;
        JCuda.cudaMemcpy(dst.withByteOffset(dstOff), src.withByteOffset(srcOff), bytes, cudaMemcpyKind.cudaMemcpyDeviceToDevice);
    }

    private static void ensureStaging() {
        if (stream != null) return;
        pinned0 = new Pointer();
        pinned1 = new Pointer();
        JCuda.cudaMallocHost(pinned0, STAGE);
        JCuda.cudaMallocHost(pinned1, STAGE);
        stage0 = MemorySegment.ofBuffer(pinned0.getByteBuffer(0, STAGE));
        stage1 = MemorySegment.ofBuffer(pinned1.getByteBuffer(0, STAGE));
        cudaStream_t s = new cudaStream_t();
        JCuda.cudaStreamCreate(s);
        event0 = new cudaEvent_t();
        event1 = new cudaEvent_t();
        JCuda.cudaEventCreate(event0);
        JCuda.cudaEventCreate(event1);
        stream = s;
    }

    // chunk i goes through buffer i % 2: wait until that buffer's previous DMA finished, fill it, queue its DMA
    private static synchronized void stagedUpload(MemorySegment src, long srcOff, Pointer dst, long dstOff, long bytes) {
        ensureStaging();
        JCuda.cudaDeviceSynchronize(); // earlier kernels on the default stream may still read dst's old bytes
        long chunks = (bytes + STAGE - 1) / STAGE;
        for (long i = 0; i < chunks; i++) {
            boolean even = (i & 1) == 0;
            long off = i * STAGE, n = Math.min(STAGE, bytes - off);
            JCuda.cudaEventSynchronize(even ? event0 : event1);
            MemorySegment.copy(src, srcOff + off, even ? stage0 : stage1, 0, n);
            JCuda.cudaMemcpyAsync(dst.withByteOffset(dstOff + off), even ? pinned0 : pinned1, n, cudaMemcpyKind.cudaMemcpyHostToDevice, stream);
            JCuda.cudaEventRecord(even ? event0 : event1, stream);
        }
        JCuda.cudaStreamSynchronize(stream);
    }

    // chunk i+1's DMA is queued before chunk i is drained from its buffer, so copy-out overlaps the next transfer
    private static synchronized void stagedDownload(Pointer src, long srcOff, MemorySegment dst, long dstOff, long bytes) {
        ensureStaging();
        JCuda.cudaDeviceSynchronize(); // kernels on the default stream that write src must have finished
        long chunks = (bytes + STAGE - 1) / STAGE;
        queueDownload(src, srcOff, bytes, 0);
        for (long i = 0; i < chunks; i++) {
            if (i + 1 < chunks) queueDownload(src, srcOff, bytes, i + 1);
            boolean even = (i & 1) == 0;
            long off = i * STAGE, n = Math.min(STAGE, bytes - off);
            JCuda.cudaEventSynchronize(even ? event0 : event1);
            MemorySegment.copy(even ? stage0 : stage1, 0, dst, dstOff + off, n);
        }
    }

    private static void queueDownload(Pointer src, long srcOff, long bytes, long i) {
        boolean even = (i & 1) == 0;
        long off = i * STAGE, n = Math.min(STAGE, bytes - off);
        JCuda.cudaMemcpyAsync(even ? pinned0 : pinned1, src.withByteOffset(srcOff + off), n, cudaMemcpyKind.cudaMemcpyDeviceToHost, stream);
        JCuda.cudaEventRecord(even ? event0 : event1, stream);
    }
}
