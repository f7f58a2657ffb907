package io.lowbit.examples.cli;

import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.quant.ModelQuantizer;
import io.lowbit.models.quant.QuantEval;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.QuantizedCheckpoint;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.quant.TokenData;
import io.lowbit.quant.Quantizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit quantize}: post-training quantization of every decoder linear of a float checkpoint
 * (RTN, NF4 or whole-model sequential GPTQ) into a quantized safetensors directory.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize a float checkpoint (llama2.c .bin or Hugging Face dir) with RTN, NF4 or GPTQ into a quantized checkpoint directory.",
                "GPTQ calibrates on --calib-data (a .ids file of token ids) or, without it, on --calib-tokens tokens sampled from the float model itself "
                        + "(temperature 1, fixed --seed; for checkpoints that ship no tokenizer such as stories260K)."})
public final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "float checkpoint: llama2.c .bin file or Hugging Face directory")
    Path checkpoint;

    @Option(names = "--method", required = true, description = "rtn | nf4 | gptq")
    String method;

    @Option(names = "--bits", defaultValue = "4", description = "code width 2, 3, 4 or 8 (nf4: 4) (default ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--group", defaultValue = "-1", description = "input columns per scale group, -1 = per output channel (default ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--sym", description = "symmetric grid (rtn, gptq); default asymmetric min-max")
    boolean sym;

    @Option(names = "--act-order", description = "GPTQ act-order (descending Hessian diagonal; stores g_idx)")
    boolean actOrder;

    @Option(names = "--calib-tokens", defaultValue = "2048", description = "GPTQ calibration tokens sampled from the float model (default ${DEFAULT-VALUE})")
    int calibTokens;

    @Option(names = "--calib-data", description = "GPTQ calibration token ids (.ids file) instead of sampling")
    Path calibData;

    @Option(names = "--calib-seq", defaultValue = "128", description = "calibration sequence length (default ${DEFAULT-VALUE})")
    int calibSeq;

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed for calibration text (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", required = true, description = "output directory (model.safetensors + config.json)")
    Path out;

    @Override
    public Integer call() throws Exception {
        Supplier<Quantizer> q = QuantMethods.of(method, bits, group, sym, actOrder);
        long t0 = System.nanoTime();
        try (LlamaWeights w = Checkpoints.load(checkpoint)) {
            int[][] calib = null;
            if (q.get().needsCalibration()) calib = calibration(w);
            System.out.printf(Locale.ROOT, "quantizing %d layers of %s with %s %d-bit%s%s%n", w.config().numHiddenLayers(), checkpoint, method, bits,
                    group > 0 ? " g" + group : " per-channel", calib != null ? " on " + calib.length + " calibration sequences" : "");
            try (QuantizedLlama m = ModelQuantizer.quantize(w, q, calib, System.out)) {
                QuantizedCheckpoint.write(out, m);
                long fp = 0;
                for (var l : w.layers()) fp += 4L * (l.wq().numel() + l.wk().numel() + l.wv().numel() + l.wo().numel() + l.w1().numel() + l.w2().numel() + l.w3().numel());
                System.out.printf(Locale.ROOT, "wrote %s: linears %.1f KiB (fp32 %.1f KiB, %.3f bits/weight) in %.1f s%n", out, m.linearBytes() / 1024.0,
                        fp / 1024.0, 32.0 * m.linearBytes() / fp, (System.nanoTime() - t0) / 1e9);
            }
        }
        return 0;
    }

    private int[][] calibration(LlamaWeights w) throws Exception {
        int len = Math.min(calibSeq, w.config().maxPositionEmbeddings());
        if (len < 2) throw new IllegalArgumentException("--calib-seq must be >= 2, got " + calibSeq);
        if (calibData != null) {
            int[] ids = TokenData.read(calibData, null, null, w.config().vocabSize());
            int n = Math.max(1, ids.length / len);
            int[][] seqs = new int[n][];
            for (int i = 0; i < n; i++) seqs[i] = Arrays.copyOfRange(ids, i * len, Math.min(ids.length, (i + 1) * len));
            return seqs;
        }
        if (calibTokens < len) throw new IllegalArgumentException("--calib-tokens " + calibTokens + " is less than one sequence of " + len);
        System.out.printf(Locale.ROOT, "sampling %d calibration tokens from the float model (seed %d)%n", calibTokens / len * len, seed);
        try (LlamaModel run = new LlamaModel(w, len)) {
            return QuantEval.sample(run, calibTokens / len, len, seed);
        }
    }
}
