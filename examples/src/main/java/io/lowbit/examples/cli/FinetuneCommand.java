package io.lowbit.examples.cli;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.ops.F;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.TokenData;
import io.lowbit.models.quant.TrainableLlama;
import io.lowbit.models.train.LinePlot;
import io.lowbit.models.train.Progress;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.quant.modulora.ModuLora;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit finetune}: ModuLoRA (any quantizer) or QLoRA (NF4) adapters on a float checkpoint's
 * quantized copy, trained on next-token prediction over a token file; the last tenth of the data is held
 * out. Writes the adapters ({@code adapters.safetensors}), the held-out loss before/after and a loss plot.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = {"Fine-tune low-rank adapters over a quantized base: --method modulora (with --quantizer rtn|nf4|gptq and --bits) or qlora (NF4).",
                "--data: a .ids token file (BOS prepended when missing) or text with --tokenizer; split into sequences of --seq, the last 10% held out."})
public final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--method", required = true, description = "modulora | qlora")
    String method;

    @Option(names = "--checkpoint", required = true, description = "float checkpoint (llama2.c .bin or Hugging Face directory)")
    Path checkpoint;

    @Option(names = "--quantizer", defaultValue = "gptq", description = "modulora base quantizer: rtn | nf4 | gptq (default ${DEFAULT-VALUE})")
    String quantizer;

    @Option(names = "--bits", defaultValue = "3", description = "base bits (default ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--group", defaultValue = "32", description = "base scale group, -1 = per channel (default ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--data", required = true, description = ".ids token file or text")
    Path data;

    @Option(names = "--tokenizer", description = "tokenizer for text data")
    Path tokenizer;

    @Option(names = "--seq", defaultValue = "64", description = "sequence length (default ${DEFAULT-VALUE})")
    int seq;

    @Option(names = "--batch", defaultValue = "4", description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--steps", defaultValue = "100", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default ${DEFAULT-VALUE})")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha (update scale alpha/r) (default ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--dropout", defaultValue = "0.05", description = "LoRA dropout (default ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", required = true, description = "output directory")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!method.equals("modulora") && !method.equals("qlora"))
            throw new IllegalArgumentException("unknown method '" + method + "' (expected modulora or qlora; fp LoRA is not in this command)");
        if (steps < 1 || batch < 1 || seq < 2) throw new IllegalArgumentException("--steps, --batch must be >= 1 and --seq >= 2");
        var q = method.equals("qlora") ? QuantMethods.of("nf4", 4, -1, false, false) : QuantMethods.of(quantizer, bits, group, false, false);
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            int len = Math.min(seq, w.config().maxPositionEmbeddings());
            int[] ids = TokenData.read(data, tokenizer, checkpoint, w.config().vocabSize());
            int nSeq = ids.length / len;
            if (nSeq < 2) throw new IllegalArgumentException(data + ": " + ids.length + " tokens make fewer than 2 sequences of " + len);
            int nHeld = Math.max(1, nSeq / 10), nTrain = nSeq - nHeld;
            try (TrainableLlama model = new TrainableLlama(w, len); Tensor all = Tensor.of(java.util.Arrays.copyOf(ids, nSeq * len), nSeq, len)) {
                Tensor train = all.narrow(0, 0, nTrain), held = all.narrow(0, nTrain, nHeld);
                System.out.printf(Locale.ROOT, "%s: %d training and %d held-out sequences of %d tokens; base %s%n", method, nTrain, nHeld, len,
                        method.equals("qlora") ? "NF4" : quantizer + " " + bits + "-bit");
                ModuLora.apply(model, q, new LoraConfig(rank, alpha, dropout, LoraConfig.LLAMA_TARGETS), new Rng(seed), () -> {
                    try (MemoryScope s = MemoryScope.open(); Tensor c = train.narrow(0, 0, Math.min(nTrain, 16)).contiguous()) {
                        model.forward(c);
                    }
                });
                double before = loss(model, held);
                List<Parameter> params = model.parameters().stream().filter(Var::requiresGrad).toList();
                Progress progress = new Progress(System.out, method, steps, Math.max(1, steps / 20));
                List<double[]> curve = new ArrayList<>();
                try (AdamW opt = new AdamW(params, lr, 0.9, 0.999, 1e-8, 0.0)) {
                    for (int step = 0; step < steps; step++) {
                        try (MemoryScope s = MemoryScope.open()) {
                            int b = Math.min(batch, nTrain), from = (step * b) % Math.max(1, nTrain - b + 1);
                            Tensor x = train.narrow(0, from, b).contiguous();
                            double l = lossOf(model, x, true);
                            opt.step();
                            opt.zeroGrad();
                            curve.add(new double[] {step + 1, l});
                            progress.step(step, l, lr, (long) b * len);
                        }
                    }
                }
                double after = loss(model, held);
                Files.createDirectories(out);
                Map<String, Tensor> adapters = new LinkedHashMap<>();
                for (var e : model.namedParameters().entrySet()) if (e.getValue().requiresGrad()) adapters.put(e.getKey(), e.getValue().data());
                Safetensors.write(out.resolve("adapters.safetensors"), adapters, Map.of("format", "pt", "method", method, "base_checkpoint",
                        checkpoint.toString(), "rank", String.valueOf(rank), "alpha", String.valueOf(alpha)));
                new LinePlot(method + " fine-tuning loss", "step", "loss").add("train", curve.toArray(new double[0][])).writePng(out.resolve("loss.png"));
                System.out.printf(Locale.ROOT, "held-out loss %.4f -> %.4f (perplexity %.3f -> %.3f); adapters %.1f KiB; wrote %s%n", before, after,
                        Math.exp(before), Math.exp(after), adapters.values().stream().mapToLong(t -> t.numel() * t.dtype().bytes).sum() / 1024.0, out);
            }
        }
        return 0;
    }

    /** Mean next-token cross-entropy of [B, T] ids; with {@code backward} also accumulates gradients. */
    private static double lossOf(TrainableLlama m, Tensor ids, boolean backward) {
        int b = ids.size(0), t = ids.size(1);
        Var logits = m.forward(ids.narrow(1, 0, t - 1).contiguous());
        Var loss = F.crossEntropy(F.reshape(logits, b * (t - 1), m.config().vocabSize()), ids.narrow(1, 1, t - 1).contiguous().reshape(b * (t - 1)));
        if (backward) loss.backward();
        return loss.item();
    }

    private static double loss(TrainableLlama m, Tensor held) {
        try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope s = MemoryScope.open()) {
            m.eval();
            double l = lossOf(m, held.contiguous(), false);
            m.train(true);
            return l;
        }
    }
}
