package io.lowbit.examples;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.DecoderWeights;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.nf4.Nf4Quantizer;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Four ways to store one real weight in 3–4 bits, compared on the error that matters: the layer's output
 * on inputs it really sees. The weight is one linear layer of stories260K ({@code --layer}, {@code --weight});
 * its inputs are recorded while the model reads stories it wrote itself ({@code --calib-stories} stories
 * calibrate GPTQ, another one, never seen by GPTQ, measures the error). The default is the down projection
 * of block 2, whose inputs are SwiGLU outputs; with a single 256-token story GPTQ overfits its 172-wide
 * Hessian and loses to RTN on the held-out story, with four it wins.
 * <ul>
 *   <li>RTN: round each weight to the nearest point of a per-group min-max grid (no data needed).</li>
 *   <li>NF4 + double quantization (QLoRA): 16 normal-quantile levels per block of 64, block absmax stored in int8.</li>
 *   <li>GPTQ: quantize column by column and push each column's rounding error onto the columns not yet
 *       quantized, weighted by the inverse Hessian H = XᵀX of the layer's inputs (Frantar et al. 2023).</li>
 * </ul>
 */
public final class QuantizeAWeight {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "RTN int4/int3 per-group vs NF4+DQ vs GPTQ on a real stories260K weight with its real inputs";

    private QuantizeAWeight() {}

    public static void main(String[] args) throws Exception {
        ExampleArgs opts = ExampleArgs.parse(args);
        int layer = opts.getInt("layer", 2);
        String which = opts.get("weight", "w2");
        int group = opts.getInt("group", 32);
        int tokens = opts.getInt("tokens", 256);
        int calibStories = opts.getInt("calib-stories", 4);
        opts.done();
        if (calibStories < 1 || tokens < 2) throw new IllegalArgumentException("--calib-stories must be >= 1 and --tokens >= 2");
        long startBytes = Allocator.liveBytes();

        try (LlamaWeights w = Checkpoints.load(SharedAssets.stories260K())) {
            if (layer < 0 || layer >= w.config().numHiddenLayers())
                throw new IllegalArgumentException("--layer must be in [0, " + w.config().numHiddenLayers() + "), got " + layer);
            LlamaWeights.Layer block = w.layers().get(layer);
            Tensor weight = block.linear(slotOf(which));
            // 1. Real inputs: stories the model writes itself (seeds 1..N calibrate, seed 1000 is held out),
            //    read back through the model while we record what this weight's layer receives.
            Tensor[] parts = new Tensor[calibStories];
            for (int i = 0; i < calibStories; i++) parts[i] = inputsOf(w, story(w, tokens, 1 + i), layer, which);
            int[] heldOutStory = story(w, tokens, 1000);
            try (Tensor calib = Tensor.cat(0, parts); Tensor heldOut = inputsOf(w, heldOutStory, layer, which)) {
                for (Tensor part : parts) part.close();
                System.out.printf(Locale.ROOT, "weight layers.%d.%s %s; calibration %d tokens (%d %s), held-out %d tokens%n",
                        layer, which, java.util.Arrays.toString(weight.shape()), calib.size(0), calibStories,
                        calibStories == 1 ? "story" : "stories", heldOut.size(0));
                // 2. The methods. Each returns a QuantizedTensor: packed codes plus scales, in QUANTIZED memory.
                Map<String, Quantizer> methods = new LinkedHashMap<>();
                methods.put("RTN int4 g" + group, new AffineQuantizer(AffineSpec.perGroup(4, false, group)));
                methods.put("RTN int3 g" + group, new AffineQuantizer(AffineSpec.perGroup(3, false, group)));
                methods.put("NF4 + DQ (block 64)", new Nf4Quantizer());
                methods.put("GPTQ int4 g" + group, new Gptq(Gptq.Config.defaults(4).withGroupSize(group)));
                methods.put("GPTQ int3 g" + group, new Gptq(Gptq.Config.defaults(3).withGroupSize(group)));
                System.out.printf(Locale.ROOT, "%-22s %12s %14s %18s%n", "method", "bits/weight", "weight error", "held-out output error");
                for (Map.Entry<String, Quantizer> m : methods.entrySet()) {
                    Quantizer q = m.getValue();
                    q.observe(calib);                      // GPTQ accumulates H = XᵀX; RTN and NF4 ignore the data
                    try (QuantizedTensor qt = q.quantize(weight); Tensor deq = qt.dequantize()) {
                        System.out.printf(Locale.ROOT, "%-22s %12.3f %14.4f %18.4f%n", m.getKey(), qt.bitsPerWeight(),
                                relativeError(weight, deq, null), relativeError(weight, deq, heldOut));
                    }
                }
            }
        }
        System.out.println("errors are relative Frobenius norms: ||W - Q|| / ||W|| and ||X(W - Q)ᵀ|| / ||XWᵀ||");
        System.out.printf(Locale.ROOT, "leaked bytes: %d%n", Allocator.liveBytes() - startBytes);
    }

    /** A story sampled from the model (BOS first), for realistic token statistics. */
    static int[] story(LlamaWeights w, int tokens, long seed) {
        try (LlamaModel model = new LlamaModel(w, tokens)) {
            int[] gen = Generator.generate(model, new int[] {Generator.BOS}, tokens - 1,
                    new Sampler(w.config().vocabSize(), 1.0, 0, 0.95, seed), new int[0], null);
            int[] all = new int[gen.length + 1];
            all[0] = Generator.BOS;
            System.arraycopy(gen, 0, all, 1, gen.length);
            return all;
        }
    }

    /** The {@link DecoderWeights} slot of a llama2.c weight name. */
    static int slotOf(String which) {
        return switch (which) {
            case "wq" -> DecoderWeights.Q;
            case "wk" -> DecoderWeights.K;
            case "wv" -> DecoderWeights.V;
            case "wo" -> DecoderWeights.O;
            case "w1" -> DecoderWeights.GATE;
            case "w3" -> DecoderWeights.UP;
            case "w2" -> DecoderWeights.DOWN;
            default -> throw new IllegalArgumentException("--weight must be one of wq wk wv wo w1 w2 w3, got " + which);
        };
    }

    /**
     * The inputs weight {@code which} of block {@code layer} sees for {@code ids}, [T, in]: recorded by the
     * inference engine's linear hook ({@link LlamaModel#setLinearHook}) while it reads the whole sequence as
     * one chunk (q/k/v share their input, so do w1/w3).
     */
    static Tensor inputsOf(LlamaWeights w, int[] ids, int layer, String which) {
        int slot = slotOf(which);
        float[][] captured = new float[1][];
        try (LlamaModel model = new LlamaModel(w, ids.length, ids.length)) {
            model.setLinearHook((l, s, rows, n) -> {
                if (l == layer && s == slot) captured[0] = rows;
            });
            model.forwardAll(ids, 0, new float[ids.length * w.config().vocabSize()]);
        }
        return Tensor.of(captured[0], ids.length, captured[0].length / ids.length);
    }

    /** ||A − B|| / ||A||, or with inputs X: ||X(A − B)ᵀ|| / ||XAᵀ||. */
    static double relativeError(Tensor a, Tensor b, Tensor x) {
        try (MemoryScope _ = MemoryScope.open()) {
            Tensor diff = a.sub(b), ref = a;
            if (x != null) {
                diff = x.matmul(diff.t());
                ref = x.matmul(a.t());
            }
            return Math.sqrt(diff.square().sum().item() / ref.square().sum().item());
        }
    }
}
