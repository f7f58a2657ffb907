package io.lowbit.models.io;

import io.lowbit.models.llama.LlamaWeights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a checkpoint whatever its format: a llama2.c {@code .bin} file or a Hugging Face directory. */
public final class Checkpoints {
    private Checkpoints() {}

    /** A directory with config.json is read as Hugging Face safetensors, a regular file as llama2.c {@code .bin}. */
    public static LlamaWeights load(Path path) throws IOException {
        if (!Files.exists(path)) throw new IOException(path + ": no such checkpoint file or directory");
        if (Files.isDirectory(path)) return HfCheckpoint.read(path);
        return Llama2cCheckpoint.read(path);
    }
}
