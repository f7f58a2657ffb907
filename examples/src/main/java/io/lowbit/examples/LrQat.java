package io.lowbit.examples;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.qat.LrQatTraining;
import io.lowbit.models.qat.QatExport;
import io.lowbit.models.quant.ModelQuantizer;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.QuantizedCheckpoint;
import io.lowbit.models.quant.QuantizedLlama;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.quant.lrqat.Downcast;
import io.lowbit.quant.lrqat.LrQatConfig;
import io.lowbit.quant.lrqat.LrQatLinear;
import io.lowbit.quant.lrqat.Phi0;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * LR-QAT (Bondarenko et al. 2024; specs/lr-qat.md) on stories260K, step by step:
 * <ol>
 *   <li>what φ stores: one weight row W0, its L_4 scale s0, and Φ0 = φ(W0/s0) as int8 fixed point ("Q4.4":
 *       4 integer and 4 fractional bits) and as double-packed INT4 — the residual below one grid step that
 *       Q4.4 keeps and INT4 throws away;</li>
 *   <li>training A, B and s only, through the shared trainer: Ŵ = s·clamp(round(Φ0 + (α/r)·A·B)), with A
 *       starting at zero so step 0 is round-to-nearest;</li>
 *   <li>merging to integers W_int = clamp(round(Φ0 + (α/r)AB)): a plain 3-bit checkpoint, the same size as an
 *       RTN checkpoint of the same grid, that scores exactly what the fake-quant model scored.</li>
 * </ol>
 * Training and validation text is sampled from the float model itself (stories260K ships no text).
 */
public final class LrQat {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "LR-QAT on stories260K: what φ stores (Q4.4 vs INT4), training A, B, s, merging to a 3-bit checkpoint";

    private LrQat() {}

    public static void main(String[] args) throws Exception {
        long live0 = Allocator.liveBytes();
        ExampleArgs opts = ExampleArgs.parse(args);
        int bits = opts.getInt("bits", 3), steps = opts.getInt("steps", 150), rank = opts.getInt("rank", 8);
        opts.done();
        Path checkpoint = SharedAssets.stories260K();
        int[] tokens = selfSampled(checkpoint, 48, 128, 1);
        TokenDataset data = new TokenDataset(tokens, 0.25, 64, 42);           // 25% held out, windows of 64
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());

        // 1. What φ stores, on the first row of layer 0's q_proj (first 8 columns).
        try (LlamaForCausalLM model = LlamaForCausalLM.load(checkpoint)) {
            Tensor w0 = ((io.lowbit.autograd.nn.Linear) model.get("model.layers.0.self_attn.q_proj")).weight().data();
            float[] s0 = io.lowbit.quant.lrqat.LpRangeSearch.scales(w0, bits, w0.size(1), 4);
            System.out.printf(Locale.ROOT, "W0[0, :8]      = %s%n", row(w0, 8));
            System.out.printf(Locale.ROOT, "s0[0] = %.5f (L_4 search; min-max would be %.5f)%n", s0[0],
                    io.lowbit.quant.lrqat.LpRangeSearch.scales(w0, bits, w0.size(1), 0)[0]);
            for (Downcast d : new Downcast[] {Downcast.FIXED_POINT_INT8, Downcast.INT_PACKED}) {
                try (Phi0 phi = Phi0.of(w0, s0, w0.size(1), bits, d)) {
                    StringBuilder sb = new StringBuilder("[");
                    for (int c = 0; c < 8; c++) sb.append(c > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.4f", phi.get(0, c)));
                    System.out.printf(Locale.ROOT, "Φ0[0, :8] %-6s = %s]  (%d bytes for %d weights)%n", d == Downcast.INT_PACKED ? "INT4" : "Q4.4",
                            sb, phi.bytes(), w0.numel());
                }
            }
        }

        // 2. RTN at the same grid (symmetric, per channel), the starting point of LR-QAT.
        double rtn;
        try (LlamaWeights w = Checkpoints.load(checkpoint);
             QuantizedLlama q = ModelQuantizer.quantize(w, QuantMethods.of("rtn", bits, -1, true, false), null, null);
             LlamaForCausalLM deq = QatExport.dequantized(q)) {
            rtn = Trainer.validate(deq, data, 8, 0);
            try (LlamaForCausalLM fp = LlamaForCausalLM.load(checkpoint)) {
                System.out.printf(Locale.ROOT, "%nfloat perplexity %.3f; RTN W%d (symmetric, per channel) %.3f, linears %d bytes%n",
                        Math.exp(Trainer.validate(fp, data, 8, 0)), bits, Math.exp(rtn), q.linearBytes());
            }
            // 3. LR-QAT: only A, B and s train; Φ0 stays frozen in Q4.4.
            LrQatConfig cfg = new LrQatConfig(bits, -1, rank, 1.0, Downcast.FIXED_POINT_INT8, 4, false);
            TrainConfig tc = new TrainConfig(steps, 8, 1, 1e-2, steps / 10, 0.0, 0.0, 0.9, 0.95, 1e-8, TrainConfig.Optim.ADAMW, false, 1.0,
                    false, steps / 3, 0, 0, 1000, 42, null, false);
            try (LlamaForCausalLM model = LlamaForCausalLM.load(checkpoint); LrQatTraining lrqat = new LrQatTraining(cfg, 1e-2, 1e-4);
                 Trainer trainer = new Trainer(model, lrqat, data, tc, quiet)) {
                LrQatLinear l0 = lrqat.layers().get("model.layers.0.self_attn.q_proj");
                System.out.printf(Locale.ROOT, "LR-QAT rank %d: trains %d numbers (A, B, s), the model has %d linear weights; A starts at |A|max = %.1f%n",
                        rank, trainer.trainable().stream().mapToLong(p -> p.data().numel()).sum(), linearWeights(model), l0.loraA().data().absMax());
                System.out.printf(Locale.ROOT, "step 0 (A = 0): perplexity %.3f  = RTN with the L_4 scales%n", Math.exp(trainer.validate()));
                Trainer.Result r = trainer.run();
                for (var row : r.metrics().rows())
                    if (row.containsKey("val_ppl")) System.out.printf(Locale.ROOT, "step %3.0f: perplexity %.3f%n", row.get("step") + 1, row.get("val_ppl"));
                System.out.printf(Locale.ROOT, "trained: |A|max = %.4f, (α/r)·A·B moved %d of %d integers of q_proj%n", l0.loraA().data().absMax(),
                        movedIntegers(l0), l0.outFeatures * l0.inFeatures);

                // 4. Merge: integers + scales, nothing low-rank left.
                try (QuantizedLlama merged = QatExport.toQuantizedLlama(model, lrqat.quantized()); LlamaForCausalLM back = QatExport.dequantized(merged)) {
                    AffineQuantizedTensor q0 = (AffineQuantizedTensor) ((io.lowbit.models.quant.LinearWeight.Packed) merged.linear(0, 0)).q();
                    StringBuilder ints = new StringBuilder();
                    for (int c = 0; c < 8; c++) ints.append(c > 0 ? " " : "").append(q0.code(0, c) - q0.zero(0, 0));
                    System.out.printf(Locale.ROOT, "merged q_proj row 0: W_int[:8] = %s, s = %.5f%n", ints, q0.scale(0, 0));
                    double mergedLoss = Trainer.validate(back, data, 8, 0);
                    System.out.printf(Locale.ROOT, "merged W%d checkpoint: perplexity %.3f (fake-quant model %.3f), linears %d bytes (RTN: %d)%n", bits,
                            Math.exp(mergedLoss), r.finalValPerplexity(), merged.linearBytes(), q.linearBytes());
                    Path dir = Files.createTempDirectory("lrqat");
                    QuantizedCheckpoint.write(dir, merged);
                    System.out.printf(Locale.ROOT, "written to a quantized checkpoint: %d bytes of model.safetensors (./lowbit eval loads it)%n",
                            Files.size(dir.resolve("model.safetensors")));
                    try (var files = Files.list(dir)) {
                        for (Path p : files.toList()) Files.delete(p);
                    }
                    Files.delete(dir);
                }
            }
        }
        System.out.println("leaked bytes: " + (Allocator.liveBytes() - live0));
    }

    /** {@code count} sequences of {@code length} tokens sampled (temperature 1) from the float model, concatenated. */
    static int[] selfSampled(Path checkpoint, int count, int length, long seed) throws Exception {
        int[] all = new int[count * length];
        int n = 0;
        try (LlamaWeights w = Checkpoints.load(checkpoint); LlamaModel m = new LlamaModel(w, length)) {
            for (int i = 0; i < count; i++) {
                int[] ids = Generator.generate(m, new int[] {Generator.BOS}, length - 1, new Sampler(w.config().vocabSize(), 1.0, 0, 1.0, seed + i),
                        new int[0], null);
                all[n++] = Generator.BOS;
                for (int id : ids) all[n++] = id;
            }
        }
        return java.util.Arrays.copyOf(all, n);
    }

    private static String row(Tensor w, int n) {
        StringBuilder sb = new StringBuilder("[");
        for (int c = 0; c < n; c++) sb.append(c > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.4f", w.get(0, c)));
        return sb.append("]").toString();
    }

    private static long linearWeights(LlamaForCausalLM model) {
        long n = 0;
        for (String p : model.projectionPaths()) {
            LrQatLinear l = (LrQatLinear) model.get(p);
            n += (long) l.outFeatures * l.inFeatures;
        }
        return n;
    }

    /** How many integers round(Φ0 + (α/r)AB) differ from round(Φ0). */
    private static int movedIntegers(LrQatLinear l) {
        int moved = 0;
        try (AffineQuantizedTensor q = l.merge()) {
            for (int r = 0; r < l.outFeatures; r++)
                for (int c = 0; c < l.inFeatures; c++) {
                    int start = (int) Math.max(-(1 << (l.config().bits() - 1)), Math.min((1 << (l.config().bits() - 1)) - 1, Math.rint(l.phi0().get(r, c))));
                    if (q.code(r, c) - q.zero(r, 0) != start) moved++;
                }
        }
        return moved;
    }
}
