package io.lowbit.examples.cli;

import io.lowbit.models.qat.QatRun;
import io.lowbit.models.quant.QuantizedCheckpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code lowbit qat}: quantization-aware training of a pretrained float checkpoint with LR-QAT, EfficientQAT
 * (Block-AP then E2E-QP) or full QAT (LSQ), written as a quantized checkpoint ({@code model.safetensors} +
 * {@code config.json} + the tokenizer) that {@code eval} and {@code generate} load. Prints validation
 * perplexity before and after and the measured peak memory by component.
 */
@Command(name = "qat", mixinStandardHelpOptions = true,
        description = {"Quantization-aware training of a float checkpoint: --method lr-qat | efficientqat | full-qat; writes a quantized checkpoint.",
                "Trains on --data (default the built-in corpus) tokenized with the checkpoint's tokenizer.json; validation is the last 5%% "
                        + "(pretrain's split). Also accepts rtn and gptq (no training) for the same output format."})
public final class QatCommand implements Callable<Integer> {
    @Option(names = "--method", required = true, description = "lr-qat, efficientqat, full-qat (or rtn, gptq)")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "weight bits 2, 3, 4 or 8 (default ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--out", required = true, description = "output directory of the quantized checkpoint (metrics.csv and loss.png of the training go there too)")
    Path out;

    @Mixin
    QatOptions opts;

    @Override
    public Integer call() throws Exception {
        if (!QatRun.METHODS.contains(method)) throw new IllegalArgumentException("unknown --method '" + method + "'; choose one of " + QatRun.METHODS);
        QatRun.Settings s = opts.settings(bits);
        int[] tokens = opts.tokens();
        Files.createDirectories(out);
        try (var fp = io.lowbit.models.nn.LlamaForCausalLM.load(opts.checkpoint)) {
            System.out.printf(Locale.ROOT, "float checkpoint %s: validation perplexity %.3f%n", opts.checkpoint, Math.exp(QatRun.validate(fp, tokens, s)));
        }
        List<QatRun.Outcome> outs = QatRun.run(method, opts.checkpoint, tokens, s, out, System.out);
        try {
            QatRun.Outcome last = outs.getLast();
            QuantizedCheckpoint.write(out, last.model());
            Files.copy(opts.checkpoint.resolve("tokenizer.json"), out.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            for (QatRun.Outcome o : outs)
                System.out.printf(Locale.ROOT, "%s: validation perplexity %.3f, %.1f s%n", o.method(), o.perplexity(), o.seconds());
            System.out.print(last.memory().format());
            System.out.printf(Locale.ROOT, "quantized linears: %.2f MiB%n", last.model().linearBytes() / 1048576.0);
            System.out.println("checkpoint: " + out + " (load with: ./lowbit eval --checkpoint " + out + " ...; ./lowbit generate --checkpoint " + out + ")");
        } finally {
            for (QatRun.Outcome o : outs) o.close();
        }
        return 0;
    }
}
