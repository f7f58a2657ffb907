package io.lowbit.examples.cli;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.tokenizer.StreamDecoder;
import io.lowbit.models.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code lowbit generate}: samples a continuation from a llama2.c {@code .bin} file or a Hugging Face
 * checkpoint directory or a quantized checkpoint directory (from {@code quantize}, {@code qat} or {@code finetune}),
 * starting from BOS and an optional prompt; quantized linears run through the fused dequantizing kernels. With a tokenizer the text streams out as
 * it is generated; with {@code --print-ids} (or without a tokenizer) the generated ids are printed on one line.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate tokens from a checkpoint (llama2.c .bin, Hugging Face directory or quantized directory), starting from BOS.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "llama2.c .bin file, Hugging Face checkpoint directory, or quantized checkpoint directory")
    Path checkpoint;

    @Option(names = "--tokenizer", description = "tokenizer: SentencePiece .model, tokenizer.json, or a directory holding one "
            + "(default: tokenizer.json or tokenizer.model beside the checkpoint, if there is one)")
    Path tokenizer;

    @Option(names = "--prompt", description = "prompt text (needs --tokenizer)")
    String prompt;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 = greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.9", description = "nucleus mass in (0, 1], 1 = off (default ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 = off (default ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--seed", defaultValue = "42", description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-tokens", defaultValue = "256", description = "most tokens to generate (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--print-ids", description = "print the generated token ids (without BOS) on one line")
    boolean printIds;

    /** tokenizer.json or tokenizer.model next to a checkpoint (inside an HF directory, beside a .bin), or null. */
    static Path besideCheckpoint(Path checkpoint) {
        Path dir = java.nio.file.Files.isDirectory(checkpoint) ? checkpoint : checkpoint.toAbsolutePath().getParent();
        if (dir == null) return null;
        for (String name : new String[] {"tokenizer.json", "tokenizer.model"}) {
            Path p = dir.resolve(name);
            if (java.nio.file.Files.isRegularFile(p)) return p;
        }
        return null;
    }

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 0) throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
        Path tokPath = tokenizer != null ? tokenizer : besideCheckpoint(checkpoint);
        if (prompt != null && tokPath == null)
            throw new IllegalArgumentException("--prompt needs --tokenizer (text cannot be turned into ids without one)");
        Tokenizer tok = tokPath == null ? null : Tokenizer.load(tokPath);
        try (QuantizedLlama w = QuantizedLlama.load(checkpoint)) {
            if (tok != null && tok.vocabSize() > w.config().vocabSize())
                throw new IllegalArgumentException("tokenizer " + tokPath + " has " + tok.vocabSize() + " tokens but checkpoint "
                        + checkpoint + " has a vocabulary of " + w.config().vocabSize() + ": they do not belong together");
            int[] promptIds = prompt == null ? new int[] {Generator.BOS} : tok.encode(prompt, true, false);
            if (promptIds.length == 0 || promptIds[0] != Generator.BOS) {
                int[] withBos = new int[promptIds.length + 1];
                withBos[0] = Generator.BOS;
                System.arraycopy(promptIds, 0, withBos, 1, promptIds.length);
                promptIds = withBos;
            }
            int ctx = (int) Math.min(w.config().maxPositionEmbeddings(), (long) promptIds.length + maxTokens);
            Sampler sampler = new Sampler(w.config().vocabSize(), temperature, topK, topP, seed);
            boolean stream = tok != null && !printIds;
            StreamDecoder decoder = stream ? tok.streamDecoder() : null;
            if (stream && prompt != null) System.out.print(prompt);
            long t0 = System.nanoTime();
            try (LlamaModel model = new LlamaModel(w, Math.max(1, ctx))) {
                int[] ids = Generator.generate(model, promptIds, maxTokens, sampler, new int[] {Generator.BOS, Generator.EOS},
                        stream ? id -> {
                            System.out.print(decoder.push(id));
                            System.out.flush();
                        } : null);
                double secs = (System.nanoTime() - t0) / 1e9;
                if (stream) {
                    System.out.println(decoder.finish());
                } else {
                    StringJoiner line = new StringJoiner(" ");
                    for (int id : ids) line.add(Integer.toString(id));
                    System.out.println(line);
                }
                System.err.printf(java.util.Locale.ROOT, "generate: %d tokens in %.2f s (%.1f tokens/s)%n", ids.length, secs, ids.length / secs);
            }
        }
        return 0;
    }
}
