package io.lowbit.tensor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * {@link NoLeaks} fails a test class that leaks: the classes below are run through the JUnit launcher and
 * the failure of their class-level container is read back. A clean class passes; a class that keeps a
 * block fails; a class that frees a block of one category and keeps as many bytes in another (same total)
 * fails too, because live bytes are compared per category.
 */
@ExtendWith(NoLeaks.class)
class NoLeaksTest {
    /** Blocks the classes below leave behind on purpose; closed after each run. */
    static Storage kept, moved;

    @AfterEach
    void freeWhatTheClassesKept() {
        if (kept != null && !kept.isClosed()) kept.close();
        if (moved != null && !moved.isClosed()) moved.close();
        kept = moved = null;
    }

    private static TestExecutionSummary run(Class<?> c) {
        var listener = new SummaryGeneratingListener();
        LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(c)).build(), listener);
        return listener.getSummary();
    }

    private static String failure(TestExecutionSummary s) {
        assertEquals(1, s.getFailures().size(), "one failure: the class container");
        return s.getFailures().getFirst().getException().getMessage();
    }

    @Test
    void passesAClassThatFreesWhatItAllocates() {
        TestExecutionSummary s = run(Clean.class);
        assertEquals(1, s.getTestsSucceededCount());
        assertEquals(0, s.getTotalFailureCount(), () -> s.getFailures().toString());
    }

    @Test
    void failsAClassThatKeepsABlock() {
        TestExecutionSummary s = run(Leaky.class);
        assertEquals(1, s.getTestsSucceededCount(), "the test itself passes; the class fails after it");
        String msg = failure(s);
        assertTrue(msg.contains("host live bytes per category after Leaky"), msg);
    }

    @Test
    void failsAClassThatMovesBytesBetweenCategories() {
        moved = Allocator.allocate(256, MemoryCategory.WEIGHTS);
        long total = Allocator.liveBytes();
        TestExecutionSummary s = run(Relabeling.class);
        assertEquals(total, Allocator.liveBytes(), "same total live bytes");
        String msg = failure(s);
        assertTrue(msg.contains("WEIGHTS") && msg.contains("ACTIVATIONS"), msg);
    }

    @ExtendWith(NoLeaks.class)
    static class Clean {
        @Test
        void allocatesAndFrees() {
            try (Storage s = Allocator.allocate(1024, MemoryCategory.ACTIVATIONS)) {
                assertEquals(1024, s.byteSize());
            }
        }
    }

    @ExtendWith(NoLeaks.class)
    static class Leaky {
        @Test
        void keepsABlock() {
            kept = Allocator.allocate(1024, MemoryCategory.ACTIVATIONS);
        }
    }

    @ExtendWith(NoLeaks.class)
    static class Relabeling {
        @Test
        void freesWeightsKeepsActivations() {
            moved.close();
            kept = Allocator.allocate(256, MemoryCategory.ACTIVATIONS);
        }
    }
}
