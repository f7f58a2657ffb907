package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * {@code @ExtendWith(NoLeaks.class)}: fails the test class when host or device live bytes differ after it
 * from what they were before it (the backend suites' leak check, written once).
 */
final class NoLeaks implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoLeaks.class);

    @Override
    public void beforeAll(ExtensionContext ctx) {
        ctx.getStore(NS).put("host", BackendCase.hostLive());
        ctx.getStore(NS).put("device", BackendCase.deviceLive());
    }

    @Override
    public void afterAll(ExtensionContext ctx) {
        String name = ctx.getRequiredTestClass().getSimpleName();
        assertEquals(ctx.getStore(NS).get("host", Long.class), BackendCase.hostLive(), "host live bytes after " + name);
        assertEquals(ctx.getStore(NS).get("device", Long.class), BackendCase.deviceLive(), "device live bytes after " + name);
    }
}
