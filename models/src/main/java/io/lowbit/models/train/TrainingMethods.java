package io.lowbit.models.train;

import java.util.List;

/** The pretraining methods by name: the one place that maps a {@code --method} value to a {@link TrainingMethod}. */
public final class TrainingMethods {
    private TrainingMethods() {}

    /** Every name {@link #create} accepts. */
    public static List<String> names() {
        return List.of("full");
    }

    /** A new method instance; the error lists the names that exist. */
    public static TrainingMethod create(String name, MethodOptions options) {
        return switch (name) {
            case "full" -> new FullTraining();
            default -> throw new IllegalArgumentException("unknown method '" + name + "'; choose one of " + names());
        };
    }
}
