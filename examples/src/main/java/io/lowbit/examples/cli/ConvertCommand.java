package io.lowbit.examples.cli;

import io.lowbit.models.io.HfCheckpoint;
import io.lowbit.models.io.Llama2cCheckpoint;
import io.lowbit.models.llama.LlamaWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code lowbit convert}: a llama2.c {@code .bin} checkpoint to a Hugging Face safetensors directory. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a llama2.c .bin checkpoint to a Hugging Face directory (config.json + model.safetensors).")
public final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "llama2.c .bin file")
    Path checkpoint;

    @Option(names = "--out", required = true, description = "output directory (created if missing)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(checkpoint)) throw new IllegalArgumentException("--checkpoint " + checkpoint + " is not a llama2.c .bin file");
        try (LlamaWeights w = Llama2cCheckpoint.read(checkpoint)) {
            HfCheckpoint.write(out, w);
            System.out.println("wrote " + out.resolve("model.safetensors") + " and " + out.resolve("config.json")
                    + " (" + w.config().parameterCount() + " parameters)");
        }
        return 0;
    }
}
