package io.lowbit.examples;

import io.lowbit.models.generate.Generator;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.quant.uniform.AffineSpec;
import io.lowbit.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The snippet of docs/library.md, compiled and tested so it cannot rot: load a checkpoint, quantize every
 * linear layer to 4 bits (round-to-nearest, groups of 32 input columns), and generate greedily. The
 * weights are replaced by their dequantized values, so the dense model runs exactly what the 4-bit codes
 * store. Takes the checkpoint path as its argument (default: stories260K from the shared folder).
 */
public final class QuickStart {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "The docs/library.md snippet: load a checkpoint, quantize its linears to int4, generate";

    private QuickStart() {}

    public static void main(String[] args) throws Exception {
        Path checkpoint = args.length > 0 ? Path.of(args[0]) : SharedAssets.stories260K();
        // --- snippet start (docs/library.md) ---
        try (LlamaWeights weights = Checkpoints.load(checkpoint)) {            // llama2.c .bin or HF directory
            var int4 = new AffineQuantizer(AffineSpec.perGroup(4, false, 32));  // RTN, asymmetric, group 32
            double bits = 0;
            int count = 0;
            for (LlamaWeights.Layer layer : weights.layers()) {
                for (Tensor linear : List.of(layer.wq(), layer.wk(), layer.wv(), layer.wo(), layer.w1(), layer.w2(), layer.w3())) {
                    try (QuantizedTensor q = int4.quantize(linear); Tensor deq = q.dequantize()) {
                        linear.copyFrom(deq);                                   // the model now computes with int4 weights
                        bits += q.bitsPerWeight();
                        count++;
                    }
                }
            }
            System.out.printf("quantized %d linears, %.3f bits/weight on average%n", count, bits / count);
            int vocab = weights.config().vocabSize();
            try (LlamaModel model = new LlamaModel(weights, 64)) {
                int[] ids = Generator.generate(model, new int[] {Generator.BOS}, 32, Sampler.greedy(vocab),
                        new int[] {Generator.BOS, Generator.EOS}, null);
                System.out.println("greedy ids: " + Arrays.toString(ids));
            }
        }
        // --- snippet end ---
    }
}
