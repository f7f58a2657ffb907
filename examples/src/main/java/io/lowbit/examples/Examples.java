package io.lowbit.examples;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The registry behind {@code ./lowbit example}: every example by name, in tutorial order. Adding one is
 * one line in {@link #ALL}.
 */
public final class Examples {
    private Examples() {}

    /** An example's main method. */
    @FunctionalInterface
    public interface Main {
        /** Runs the example with its command-line arguments. */
        void run(String[] args) throws Exception;
    }

    /** One runnable example: its name (the class's simple name), what it teaches, and its main. */
    public record Entry(String name, String description, Main main) {}

    /** Every example in the order docs/tutorial.md walks through them. */
    public static final List<Entry> ALL = List.of(
            new Entry("TensorsAndAutograd", TensorsAndAutograd.DESCRIPTION, TensorsAndAutograd::main),
            new Entry("CustomFunction", CustomFunction.DESCRIPTION, CustomFunction::main),
            new Entry("GenerateFromCheckpoint", GenerateFromCheckpoint.DESCRIPTION, GenerateFromCheckpoint::main),
            new Entry("QuantizeAWeight", QuantizeAWeight.DESCRIPTION, QuantizeAWeight::main),
            new Entry("TokenizerTour", TokenizerTour.DESCRIPTION, TokenizerTour::main),
            new Entry("QuickStart", QuickStart.DESCRIPTION, QuickStart::main),
            new Entry("MemoryPlanner", MemoryPlanner.DESCRIPTION, MemoryPlanner::main),
            new Entry("LoQTPretraining", LoQTPretraining.DESCRIPTION, LoQTPretraining::main),
            new Entry("GptqThenModuLoRA", GptqThenModuLoRA.DESCRIPTION, GptqThenModuLoRA::main),
            new Entry("LrQat", LrQat.DESCRIPTION, LrQat::main),
            new Entry("EfficientQat", EfficientQat.DESCRIPTION, EfficientQat::main));

    /** The example called {@code name} (case-insensitive; dashes and underscores are ignored, so "tokenizer-tour" works). */
    public static Optional<Entry> find(String name) {
        String key = normalize(name);
        return ALL.stream().filter(e -> normalize(e.name()).equals(key)).findFirst();
    }

    private static String normalize(String s) {
        return s.replace("-", "").replace("_", "").toLowerCase(Locale.ROOT);
    }
}
