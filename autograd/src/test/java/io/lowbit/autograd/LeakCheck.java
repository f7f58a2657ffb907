package io.lowbit.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lowbit.tensor.Allocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Base for test classes: asserts that the allocator's live bytes are back to their start after all tests. */
public abstract class LeakCheck {
    private static long start;

    @BeforeAll
    static void recordLiveBytes() {
        start = Allocator.liveBytes();
    }

    @AfterAll
    static void noLeakedBytes() {
        assertEquals(start, Allocator.liveBytes(), "off-heap bytes leaked by this test class: " + Allocator.snapshot());
    }
}
