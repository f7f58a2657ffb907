package io.lowbit.models.train;

import java.util.List;

/** The pretraining methods by name: the one place that maps a {@code --method} value to a {@link TrainingMethod}. */
public final class TrainingMethods {
    private TrainingMethods() {}

    /** Every name {@link #create} accepts. */
    public static List<String> names() {
        return List.of("full", "loqt", "loqt-nq", "lora", "relora", "galore");
    }

    /** A new method instance; the error lists the names that exist. */
    public static TrainingMethod create(String name, MethodOptions options) {
        return switch (name) {
            case "full" -> new FullTraining();
            case "loqt" -> new io.lowbit.models.train.methods.LoQTTraining(options, true);
            case "loqt-nq" -> new io.lowbit.models.train.methods.LoQTTraining(options, false);
            case "lora" -> new io.lowbit.models.train.methods.LoRATraining(options, false);
            case "relora" -> new io.lowbit.models.train.methods.LoRATraining(options, true);
            case "galore" -> new io.lowbit.models.train.methods.GaLoreTraining(options);
            default -> throw new IllegalArgumentException("unknown method '" + name + "'; choose one of " + names());
        };
    }
}
