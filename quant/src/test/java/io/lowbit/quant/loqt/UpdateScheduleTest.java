package io.lowbit.quant.loqt;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

class UpdateScheduleTest {
    @Test
    void exponentialMatchesTheSpecList() {
        // spec: τ=100, ψ=1.2 → 0, 100, 201, 302, 403, 505, 607, 709, 812, 916, 1021, 1127, …
        assertEquals(List.of(0, 100, 201, 302, 403, 505, 607, 709, 812, 916, 1021, 1127),
                UpdateSchedule.paperDefault().steps(1127));
        assertEquals(List.of(0, 100, 201, 302, 403, 505, 607, 709, 812, 916, 1021),
                UpdateSchedule.paperDefault().steps(1126));
    }

    @Test
    void staticAndLinear() {
        assertEquals(List.of(0, 10, 20, 30), new UpdateSchedule(UpdateSchedule.Kind.STATIC, 10, 0).steps(35));
        // t1 = 10, t2 = 10 + 10 + 2*1 = 22, t3 = 22 + 10 + 2*2 = 36
        assertEquals(List.of(0, 10, 22, 36), new UpdateSchedule(UpdateSchedule.Kind.LINEAR, 10, 2).steps(40));
    }

    @Test
    void membershipAndBadArguments() {
        UpdateSchedule s = UpdateSchedule.paperDefault();
        assertTrue(s.isUpdateStep(0));
        assertTrue(s.isUpdateStep(201));
        assertFalse(s.isUpdateStep(200));
        assertThrows(IllegalArgumentException.class, () -> new UpdateSchedule(UpdateSchedule.Kind.EXPONENTIAL, 0, 1.2));
        assertThrows(IllegalArgumentException.class, () -> new UpdateSchedule(UpdateSchedule.Kind.EXPONENTIAL, 100, 0.9));
    }
}
