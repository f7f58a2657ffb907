package io.lowbit.examples.cli;

import io.lowbit.models.qat.QatRun;
import io.lowbit.models.tokenizer.HfBpeTokenizer;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.quant.lrqat.Downcast;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The options {@code qat} and {@code compare-quant} share (a picocli mixin): the float checkpoint and its
 * data, the budget (steps, batch, calibration windows) and every method's learning rates. Defaults are
 * sized for the "small" preset pretrained by {@code ./lowbit pretrain} on 2 CPU cores: about 100 steps of
 * 8×128 tokens where the papers train for thousands, so every learning rate the specs give is taken ×10
 * (LR-QAT A, B 1e-3 → 1e-2 and s 1e-5 → 1e-4; Block-AP weights 1e-5 → 1e-4 and s, z 1e-4 → 1e-3; E2E-QP
 * 1e-5 → 1e-4; full QAT's weights 1e-4, which no spec fixes).
 */
public final class QatOptions {
    @Option(names = "--checkpoint", required = true, description = "float Hugging Face checkpoint directory with its tokenizer.json (e.g. from pretrain)")
    Path checkpoint;
    @Option(names = "--data", description = "UTF-8 text to train and validate on (default: the built-in Moby-Dick corpus, as pretrain)")
    Path data;
    @Option(names = "--group", defaultValue = "-1", description = "input columns per scale group, -1 = per output channel (default ${DEFAULT-VALUE})")
    int group;
    @Option(names = "--steps", defaultValue = "100", description = "optimizer steps of LR-QAT, full QAT and E2E-QP (default ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--batch", defaultValue = "8", description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--seq", defaultValue = "128", description = "sequence length; keep the pretraining's so validation windows match (default ${DEFAULT-VALUE})")
    int seq;
    @Option(names = "--lr", defaultValue = "1e-2", description = "LR-QAT learning rate of A and B (default ${DEFAULT-VALUE}: the spec's 1e-3 ×10 for ~100× fewer steps)")
    double lr;
    @Option(names = "--lr-scale", defaultValue = "1e-4", description = "learning rate of the step sizes s in LR-QAT and full QAT (default ${DEFAULT-VALUE})")
    double lrScale;
    @Option(names = "--lr-weights", defaultValue = "1e-4", description = "full-QAT learning rate of the weights (default ${DEFAULT-VALUE})")
    double lrWeights;
    @Option(names = "--rank", defaultValue = "32", description = "LR-QAT rank r (default ${DEFAULT-VALUE})")
    int rank;
    @Option(names = "--phi", defaultValue = "q4.4", description = "LR-QAT storage of W0/s0: q4.4 (int8 fixed point), int (b-bit, double-packed), bf16, f16, f32 (default ${DEFAULT-VALUE})")
    String phi;
    @Option(names = "--calib", defaultValue = "128", description = "calibration windows: GPTQ's and Block-AP's samples (default ${DEFAULT-VALUE})")
    int calib;
    @Option(names = "--block-epochs", defaultValue = "2", description = "Block-AP epochs over its samples (default ${DEFAULT-VALUE})")
    int blockEpochs;
    @Option(names = "--block-lr", defaultValue = "1e-4", description = "Block-AP learning rate of linear and norm weights (default ${DEFAULT-VALUE}: the spec's 1e-5 ×10)")
    double blockLr;
    @Option(names = "--block-lr-quant", defaultValue = "1e-3", description = "Block-AP learning rate of s and z (default ${DEFAULT-VALUE})")
    double blockLrQuant;
    @Option(names = "--e2e-lr", defaultValue = "1e-4", description = "E2E-QP learning rate of the step sizes (default ${DEFAULT-VALUE}: the spec's 1e-5 ×10)")
    double e2eLr;
    @Option(names = "--clip", defaultValue = "1.0", description = "global gradient-norm clip of trainer runs, 0 = off (default ${DEFAULT-VALUE})")
    double clip;
    @Option(names = "--eval-windows", defaultValue = "0", description = "validation windows scored, 0 = the whole held-out split (default ${DEFAULT-VALUE})")
    int evalWindows;
    @Option(names = "--seed", defaultValue = "42", description = "seed of data order and initialization (default ${DEFAULT-VALUE}, pretrain's)")
    long seed;

    /** The φ named by {@code --phi}. */
    static Downcast phi(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "q4.4", "fixed", "int8" -> Downcast.FIXED_POINT_INT8;
            case "int", "packed" -> Downcast.INT_PACKED;
            case "bf16" -> Downcast.BF16;
            case "f16", "fp16" -> Downcast.F16;
            case "f32", "fp32" -> Downcast.F32;
            default -> throw new IllegalArgumentException("unknown --phi '" + name + "'; choose q4.4, int, bf16, f16 or f32");
        };
    }

    /** The settings at {@code bits}. */
    QatRun.Settings settings(int bits) {
        return new QatRun.Settings(bits, group > 0 ? group : -1, steps, batch, seq, lr, lrScale, lrWeights, rank, phi(phi), calib, blockEpochs,
                blockLr, blockLrQuant, e2eLr, clip, evalWindows, seed);
    }

    /** The corpus tokenized with the checkpoint's own tokenizer.json (the pretraining's ids, so its validation split). */
    int[] tokens() throws IOException {
        Path tok = checkpoint.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok))
            throw new IOException(checkpoint + ": no tokenizer.json beside the checkpoint (QAT tokenizes --data with the model's own tokenizer)");
        String text;
        if (data == null) text = TokenizedCorpus.builtInText();
        else if (!Files.isRegularFile(data)) throw new IOException(data + ": no such text file (--data)");
        else text = Files.readString(data, StandardCharsets.UTF_8);
        return TokenizedCorpus.encode(HfBpeTokenizer.load(tok), text).tokens();
    }
}
