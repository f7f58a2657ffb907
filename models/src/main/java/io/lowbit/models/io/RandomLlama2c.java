package io.lowbit.models.io;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.llama.RopeLayout;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes a seeded random-weight model in llama2.c's {@code .bin} format, so speed can be compared with
 * run.c on shapes we have no trained file for. Usage:
 * {@code java -cp ... io.lowbit.models.io.RandomLlama2c OUT dim hidden layers heads kv_heads vocab seq [seed]}
 * (for example the 15M TinyStories shape: 288 768 6 6 6 32000 256).
 */
public final class RandomLlama2c {
    private RandomLlama2c() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 8) {
            System.err.println("usage: RandomLlama2c OUT dim hidden layers heads kv_heads vocab seq [seed]");
            System.exit(2);
        }
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) v[i] = Integer.parseInt(args[i + 1]);
        long seed = args.length > 8 ? Long.parseLong(args[8]) : 0;
        LlamaConfig c = LlamaConfig.of(v[0], v[1], v[3], v[4], v[2], v[5], v[6], 1e-5, 10000, true);
        try (LlamaWeights w = LlamaWeights.random(c, RopeLayout.INTERLEAVED, seed)) {
            Llama2cCheckpoint.write(Path.of(args[0]), w);
        }
        System.out.println("wrote " + args[0] + ": " + c.parameterCount() + " parameters");
    }
}
