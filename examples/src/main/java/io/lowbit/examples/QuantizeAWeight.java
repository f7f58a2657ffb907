package io.lowbit.examples;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
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
 * on inputs it really sees. The weight is a layer-0 attention projection of stories260K; its inputs are
 * RMSNorm(embedding(token))·gain for the tokens of stories the model writes itself (one story calibrates
 * GPTQ, another one, never seen by GPTQ, measures the error).
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
        String which = opts.get("weight", "wq");
        int group = opts.getInt("group", 32);
        int tokens = opts.getInt("tokens", 256);
        opts.done();
        long startBytes = Allocator.liveBytes();

        try (LlamaWeights w = Checkpoints.load(SharedAssets.stories260K())) {
            LlamaWeights.Layer layer0 = w.layers().get(0);
            Tensor weight = switch (which) {
                case "wq" -> layer0.wq();
                case "wk" -> layer0.wk();
                case "wv" -> layer0.wv();
                default -> throw new IllegalArgumentException("--weight must be wq, wk or wv (layer 0's attention projections), got " + which);
            };
            // 1. Real inputs: two stories written by the model (different seeds), turned into layer-0 inputs.
            int[] storyA = story(w, tokens, 1), storyB = story(w, tokens, 2);
            try (Tensor calib = layer0Inputs(w, storyA); Tensor heldOut = layer0Inputs(w, storyB)) {
                System.out.printf(Locale.ROOT, "weight layers.0.%s %s; calibration %d tokens, held-out %d tokens%n",
                        which, java.util.Arrays.toString(weight.shape()), storyA.length, storyB.length);
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

    /** What layer 0's q/k/v projections see: x = RMSNorm(embedding[token]) ⊙ attention-norm gain, [n, dim]. */
    static Tensor layer0Inputs(LlamaWeights w, int[] ids) {
        LlamaConfig c = w.config();
        try (MemoryScope scope = MemoryScope.open(); Tensor idx = Tensor.of(ids, ids.length)) {
            Tensor e = w.tokEmbeddings().indexSelect(0, idx);                              // [n, dim]
            Tensor inv = e.square().mean(1, true).add(c.rmsNormEps()).rsqrt();             // 1/sqrt(mean(e²) + eps)
            return scope.keep(e.mul(inv).mul(w.layers().get(0).attnNorm()));
        }
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
