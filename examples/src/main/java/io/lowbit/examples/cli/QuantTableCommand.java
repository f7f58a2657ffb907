package io.lowbit.examples.cli;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.quant.ModelQuantizer;
import io.lowbit.models.quant.QuantEval;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.quant.TokenData;
import io.lowbit.models.train.LinePlot;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lowbit quant-table}: RTN vs GPTQ vs NF4 at several bit widths — perplexity and KL to the float model. */
@Command(name = "quant-table", mixinStandardHelpOptions = true,
        description = {"Quantize a float checkpoint with RTN, GPTQ (same grid) and NF4 at each of --bits and print perplexity and KL(fp || quantized) "
                + "on held-out tokens.",
                "Without --data, evaluation tokens are sampled from the float model itself (temperature 1, seed --seed + 1000), and GPTQ's "
                        + "calibration tokens likewise with seed --seed: a stand-in for text on checkpoints that ship no tokenizer (stories260K)."})
public final class QuantTableCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "float checkpoint: llama2.c .bin or Hugging Face directory")
    Path checkpoint;

    @Option(names = "--bits", defaultValue = "4,3,2", split = ",", description = "bit widths (default ${DEFAULT-VALUE})")
    List<Integer> bits;

    @Option(names = "--group", defaultValue = "-1", description = "scale group for RTN and GPTQ, -1 = per channel (default ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--calib-tokens", defaultValue = "2048", description = "GPTQ calibration tokens (default ${DEFAULT-VALUE})")
    int calibTokens;

    @Option(names = "--eval-tokens", defaultValue = "2048", description = "held-out tokens when sampling (default ${DEFAULT-VALUE})")
    int evalTokens;

    @Option(names = "--seq", defaultValue = "128", description = "sequence/window length (default ${DEFAULT-VALUE})")
    int seq;

    @Option(names = "--data", description = "held-out data (.ids or text) instead of sampled tokens")
    Path data;

    @Option(names = "--tokenizer", description = "tokenizer for text --data")
    Path tokenizer;

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--plot", description = "write a PNG of KL vs bits per method")
    Path plot;

    @Override
    public Integer call() throws Exception {
        try (LlamaWeights w = Checkpoints.load(checkpoint); QuantizedLlama fp = QuantizedLlama.dense(w)) {
            int len = Math.min(seq, w.config().maxPositionEmbeddings());
            int[][] calib;
            int[] held;
            try (LlamaModel sampler = new LlamaModel(fp, len, 1)) {
                System.out.printf(Locale.ROOT, "sampling %d calibration tokens (seed %d)%n", calibTokens / len * len, seed);
                calib = QuantEval.sample(sampler, Math.max(1, calibTokens / len), len, seed);
                if (data != null) held = TokenData.read(data, tokenizer, checkpoint, w.config().vocabSize());
                else {
                    System.out.printf(Locale.ROOT, "sampling %d held-out tokens (seed %d)%n", evalTokens / len * len, seed + 1000);
                    held = QuantEval.concat(QuantEval.sample(sampler, Math.max(1, evalTokens / len), len, seed + 1000));
                }
            }
            try (LlamaModel fpRun = new LlamaModel(fp, len, Math.min(len, 64))) {
                QuantEval.Result base = QuantEval.perplexity(fpRun, held, len);
                List<String> rows = new ArrayList<>();
                rows.add(String.format(Locale.ROOT, "%-6s %4s %10s %12s %10s", "method", "bits", "bits/w", "perplexity", "KL(fp||q)"));
                rows.add(String.format(Locale.ROOT, "%-6s %4d %10.3f %12.4f %10s", "fp32", 32, 32.0, base.perplexity(), "0"));
                Map<String, List<double[]>> curves = new LinkedHashMap<>();
                long fpBytes = 0;
                for (int l = 0; l < w.config().numHiddenLayers(); l++) for (int s = 0; s < 7; s++) fpBytes += fp.linear(l, s).bytes();
                for (int b : bits) {
                    for (String method : new String[] {"rtn", "gptq", "nf4"}) {
                        if (method.equals("nf4") && b != 4) continue;
                        System.out.printf(Locale.ROOT, "%s %d-bit ...%n", method, b);
                        try (QuantizedLlama q = ModelQuantizer.quantize(w, QuantMethods.of(method, b, method.equals("nf4") ? -1 : group, false, false),
                                calib, null); LlamaModel run = new LlamaModel(q, len, Math.min(len, 64))) {
                            QuantEval.Result r = QuantEval.compare(fpRun, run, held, len);
                            double bpw = 32.0 * q.linearBytes() / fpBytes;
                            rows.add(String.format(Locale.ROOT, "%-6s %4d %10.3f %12.4f %10.5f", method, b, bpw, r.perplexity(), r.meanKl()));
                            curves.computeIfAbsent(method, k -> new ArrayList<>()).add(new double[] {b, r.meanKl()});
                        }
                    }
                }
                System.out.printf(Locale.ROOT, "%n%s: %d held-out tokens, windows of %d, group %s%n", checkpoint, base.tokens(), len, group > 0 ? group : "per-channel");
                for (String r : rows) System.out.println(r);
                if (plot != null) {
                    LinePlot p = new LinePlot("KL to fp vs bits (" + checkpoint.getFileName() + ")", "bits", "mean KL (nats)").logY(true);
                    for (var e : curves.entrySet()) p.add(e.getKey(), e.getValue().toArray(new double[0][]));
                    p.writePng(plot);
                    System.out.println("wrote " + plot);
                }
            }
        }
        return 0;
    }
}
