package io.lowbit.models.train.methods;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.Presets;
import org.junit.jupiter.api.Test;

/** The planner against the LoQT paper's memory column (weights + optimizer states, GiB). */
class MemoryPlanTest {
    private static double paperGiB(String preset, String method, int rank) {
        return MemoryPlan.estimate(Presets.get(preset), method, rank, false, "adamw", 0, 0).paperBytes() / MemoryPlan.GIB;
    }

    private static void within(double expected, double actual, double rel, String what) {
        assertTrue(Math.abs(actual - expected) <= rel * expected, what + ": expected " + expected + " ± " + (rel * 100) + "%, got " + actual);
    }

    @Test
    void loqtColumnOfThePaper() {
        // paper: LoQT 0.23 / 0.49 / 0.98 / 3.16 GB at ranks 128 / 256 / 256 / 512 (spec "Published defaults")
        within(0.23, paperGiB("60M", "loqt", 128), 0.05, "LoQT 60M");
        within(0.49, paperGiB("130M", "loqt", 256), 0.05, "LoQT 130M");
        within(0.98, paperGiB("350M", "loqt", 256), 0.05, "LoQT 350M");
        within(3.16, paperGiB("1B", "loqt", 512), 0.05, "LoQT 1B");
    }

    @Test
    void loqtNqColumnOfThePaper() {
        // paper: 0.28 / 0.63 / 1.47 / 5.11 GB
        within(0.28, paperGiB("60M", "loqt-nq", 128), 0.05, "LoQT-nq 60M");
        within(0.63, paperGiB("130M", "loqt-nq", 256), 0.05, "LoQT-nq 130M");
        within(1.47, paperGiB("350M", "loqt-nq", 256), 0.05, "LoQT-nq 350M");
        within(5.11, paperGiB("1B", "loqt-nq", 512), 0.05, "LoQT-nq 1B");
    }

    @Test
    void fullColumnOfThePaper() {
        within(0.76, paperGiB("130M", "full", 256), 0.05, "Full 130M");
        within(2.06, paperGiB("350M", "full", 256), 0.05, "Full 350M");
        within(7.80, paperGiB("1B", "full", 512), 0.05, "Full 1B");
        // Known discrepancy: the paper lists 0.36 GB for Full 60M; bf16 weights + bf16 Adam of the 58M-parameter
        // model (untied 32000×512 embeddings and head) give 0.325 GiB, 10 % below it. We do not fudge the formula.
        double full60 = paperGiB("60M", "full", 128);
        assertEquals(0.325, full60, 0.005);
        assertTrue(Math.abs(full60 - 0.36) / 0.36 > 0.05, "the documented 60M discrepancy is real");
    }

    @Test
    void savingsAt1BAndOtherMethodsOrderLikeThePaper() {
        double full = paperGiB("1B", "full", 512), loqt = paperGiB("1B", "loqt", 512);
        within(0.59, 1 - loqt / full, 0.05, "LoQT saves ~59% vs full at 1B");
        assertTrue(paperGiB("1B", "loqt", 512) < paperGiB("1B", "galore", 512));
        assertTrue(paperGiB("1B", "galore", 512) < paperGiB("1B", "lora", 512));
        assertTrue(paperGiB("1B", "loqt", 512) < paperGiB("1B", "loqt-nq", 512));
        assertEquals(paperGiB("350M", "lora", 256), paperGiB("350M", "relora", 256), 0);
    }

    @Test
    void sevenBOn24GBAnd13BWithPerLayerUpdates() {
        // rank 1024 for 7B and 13B (our assumption; the spec's table leaves their hyper-parameters blank), batch 1 × 256 tokens.
        var cfg7 = Presets.get("7B");
        assertTrue(MemoryPlan.estimate(cfg7, "loqt", 1024, false, "adamw", 1, 256).fits(24), "7B LoQT fits a 24 GB GPU");
        assertFalse(MemoryPlan.estimate(cfg7, "full", 1024, false, "adamw", 1, 256).fits(24), "7B full training does not");
        assertFalse(MemoryPlan.estimate(cfg7, "full", 1024, true, "adamw8bit", 1, 256).fits(24), "not even per-layer 8-bit");
        var cfg13 = Presets.get("13B");
        assertFalse(MemoryPlan.estimate(cfg13, "loqt", 1024, false, "adamw", 1, 256).fits(24), "13B LoQT needs more");
        assertTrue(MemoryPlan.estimate(cfg13, "loqt", 1024, true, "adamw8bit", 1, 256).fits(24), "13B LoQT fits with per-layer 8-bit Adam");
    }

    @Test
    void badInputIsNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.estimate(Presets.get("60M"), "qlora", 8, false, "adamw", 0, 0));
        assertTrue(e.getMessage().contains("qlora"));
        var e2 = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.estimate(Presets.get("60M"), "loqt", 8, false, "sgd", 0, 0));
        assertTrue(e2.getMessage().contains("sgd"));
    }
}
