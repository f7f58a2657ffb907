package io.lowbit.tensor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.cuda.CudaAllocator;
import io.lowbit.tensor.cuda.CudaProbe;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * {@code @ExtendWith(NoLeaks.class)}: fails the test class when the host live bytes of any
 * {@link MemoryCategory}, or the device live bytes, differ after it from what they were before it.
 * The one leak check of every module's tests (tensor publishes it in its test-jar).
 */
public final class NoLeaks implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoLeaks.class);

    @Override
    public void beforeAll(ExtensionContext ctx) {
        ctx.getStore(NS).put("host", Allocator.snapshot());
        ctx.getStore(NS).put("device", deviceLive());
    }

    @Override
    public void afterAll(ExtensionContext ctx) {
        String name = ctx.getRequiredTestClass().getSimpleName();
        @SuppressWarnings("unchecked")
        Map<MemoryCategory, Long> host = ctx.getStore(NS).get("host", Map.class);
        assertEquals(host, Allocator.snapshot(), "host live bytes per category after " + name);
        assertEquals(ctx.getStore(NS).get("device", Long.class), deviceLive(), "device live bytes after " + name);
    }

    /** Device bytes still live (0 without a usable GPU). */
    static long deviceLive() {
        return CudaProbe.status().available() ? CudaAllocator.ledger().liveBytes() : 0;
    }
}
