package io.lowbit.examples;

import io.lowbit.autograd.GradMode;
import io.lowbit.autograd.Var;
import io.lowbit.autograd.nn.Parameter;
import io.lowbit.autograd.optim.AdamW;
import io.lowbit.models.generate.Sampler;
import io.lowbit.models.io.Checkpoints;
import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.methods.ModuLoRATraining;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.MemoryScope;
import io.lowbit.tensor.Rng;
import io.lowbit.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * GPTQ then ModuLoRA fine-tuning (Yin et al. 2023), step by step on a real checkpoint (stories260K): quantize every
 * linear of the model to 3 bits with GPTQ, watch what that costs on held-out text, then train low-rank adapters on
 * top of the frozen packed weights until most of that cost is paid back — while the dense weights never come back
 * (the backward re-materializes them tile by tile into a small scratch buffer) and no base weight has a gradient.
 *
 * <p>The task is the model's own writing: stories sampled from the float model, so the only thing that separates the
 * quantized model from the float one is quantization, and "the gap" is exactly what quantization lost. Each training
 * row is one story from its BOS (this model is lost without it), so the loop here is written out by hand; {@code
 * ./lowbit finetune} runs the same {@link ModuLoRATraining} method on the shared trainer over a token stream.
 */
public final class GptqThenModuLoRA {
    /** One line for {@code ./lowbit example --list}. */
    public static final String DESCRIPTION = "quantize stories260K to 3 bits with GPTQ, then ModuLoRA adapters win back part of the loss gap (45% in 100 steps)";

    private GptqThenModuLoRA() {}

    public static void main(String[] args) throws Exception {
        ExampleArgs opts = ExampleArgs.parse(args);
        String quantizer = opts.get("quantizer", "gptq"); // rtn | gptq | nf4: the one argument that changes the base
        int bits = opts.getInt("bits", 3);
        int group = opts.getInt("group", 32);
        int steps = opts.getInt("steps", 100);
        int rank = opts.getInt("rank", 8);
        double lr = opts.getDouble("lr", 3e-3);
        int trainStories = opts.getInt("stories", 1024), heldOutStories = 32, len = opts.getInt("tokens", 64), batch = opts.getInt("batch", 16);
        opts.done();
        long startBytes = Allocator.liveBytes();

        try (LlamaWeights w = Checkpoints.load(SharedAssets.stories260K())) {
            // 1. The data: stories the float model writes itself from BOS (seeds 1.., the last ones held out).
            int[][] stories = sample(w, trainStories + heldOutStories, len);
            int[][] train = Arrays.copyOfRange(stories, 0, trainStories), heldOut = Arrays.copyOfRange(stories, trainStories, stories.length);

            try (LlamaForCausalLM model = LlamaForCausalLM.fromWeights(w)) { // the trainable (autograd) LLaMA
                double fp = loss(model, heldOut);
                long dense = Allocator.liveBytes(MemoryCategory.WEIGHTS);
                System.out.printf(Locale.ROOT, "stories260K: %d training and %d held-out stories of %d tokens%n", trainStories, heldOutStories, len);
                System.out.printf(Locale.ROOT, "float model:        held-out loss %.4f (perplexity %.2f)%n", fp, Math.exp(fp));

                // 2. Quantize + wrap. ModuLoRATraining.prepare walks the q/k/v/o/gate/up/down linears in order; for GPTQ
                //    each one first watches its real inputs on calibration stories (the earlier ones already quantized),
                //    then becomes a ModuLoraLinear: frozen packed base + A (Kaiming) + B (zero), so the model starts
                //    exactly equal to its quantized base.
                LoraConfig lora = new LoraConfig(rank, 2.0 * rank, 0.0, LoraConfig.LLAMA_TARGETS); // α = 2r, no dropout
                TokenDataset.Batch calibration = rows(Arrays.copyOfRange(train, 0, 8));
                try (ModuLoRATraining method = ModuLoRATraining.modulora(QuantMethods.of(quantizer, bits, group, false, false), lora, calibration)) {
                    method.prepare(model, new Rng(7));
                    List<Parameter> adapters = method.trainable(model);
                    for (Parameter p : model.parameters()) p.requiresGrad(false); // embeddings and norms stay frozen too
                    for (Parameter p : adapters) p.requiresGrad(true);
                    String base = method.layers().values().iterator().next().quantizedBase().weight().toString();
                    double quantized = loss(model, heldOut);
                    System.out.printf(Locale.ROOT, "%s base:%s held-out loss %.4f (perplexity %.2f)%n", quantizer + bits,
                            " ".repeat(Math.max(1, 12 - quantizer.length())), quantized, Math.exp(quantized));
                    System.out.printf(Locale.ROOT, "  e.g. %s%n  linears: %,d B dense F32 -> %,d B packed; adapters: %,d parameters%n",
                            base, dense - Allocator.liveBytes(MemoryCategory.WEIGHTS), Allocator.liveBytes(MemoryCategory.QUANTIZED),
                            adapters.stream().mapToLong(Parameter::numel).sum());

                    // 3. Train only A and B. The loss flows back through deq(Q) to the adapters of earlier layers;
                    //    the base has no parameter, hence no gradient tensor at all.
                    Allocator.resetPeak();
                    try (AdamW opt = new AdamW(adapters, lr, 0.9, 0.999, 1e-8, 0.0)) {
                        for (int step = 1; step <= steps; step++) {
                            int from = ((step - 1) * batch) % trainStories;
                            try (MemoryScope _ = MemoryScope.open()) {
                                lossOf(model, rows(Arrays.copyOfRange(train, from, from + batch))).backwardAndRelease();
                            }
                            opt.step();
                            opt.zeroGrad();
                            if (step % 20 == 0 || step == steps)
                                System.out.printf(Locale.ROOT, "step %3d  held-out loss %.4f%n", step, loss(model, heldOut));
                        }
                    }
                    double after = loss(model, heldOut);
                    System.out.printf(Locale.ROOT, "after ModuLoRA:     held-out loss %.4f (perplexity %.2f)%n", after, Math.exp(after));
                    System.out.printf(Locale.ROOT, "gap to the float model closed: %.0f%% ((%.4f - %.4f) / (%.4f - %.4f))%n",
                            100 * (quantized - after) / (quantized - fp), quantized, after, quantized, fp);
                    System.out.printf(Locale.ROOT, "training peaks: gradients %,d B (= the adapters' %,d B), dense weights re-materialized in scratch tiles %,d B%n",
                            Allocator.peakBytes(MemoryCategory.GRADIENTS), 4 * adapters.stream().mapToLong(Parameter::numel).sum(),
                            Allocator.peakBytes(MemoryCategory.SCRATCH));
                }
            }
        }
        System.out.println("leaked bytes: " + (Allocator.liveBytes() - startBytes));
    }

    /** Mean next-token loss of the stories (each row predicts tokens 1..len-1 from 0..len-2), without gradients. */
    private static double loss(LlamaForCausalLM model, int[][] stories) {
        model.eval();
        try (GradMode.Scope _ = GradMode.noGrad(); MemoryScope _ = MemoryScope.open()) {
            return lossOf(model, rows(stories)).item();
        } finally {
            model.train(true);
        }
    }

    private static Var lossOf(LlamaForCausalLM model, TokenDataset.Batch b) {
        Tensor x = Tensor.of(b.inputs(), b.batch(), b.seqLen()), y = Tensor.of(b.targets(), b.batch(), b.seqLen());
        return model.loss(x, y); // x and y belong to the caller's MemoryScope
    }

    /** Stories as a batch: inputs = tokens 0..len-2, targets = tokens 1..len-1 of each row. */
    private static TokenDataset.Batch rows(int[][] stories) {
        int t = stories[0].length - 1;
        int[] x = new int[stories.length * t], y = new int[stories.length * t];
        for (int i = 0; i < stories.length; i++) {
            System.arraycopy(stories[i], 0, x, i * t, t);
            System.arraycopy(stories[i], 1, y, i * t, t);
        }
        return new TokenDataset.Batch(x, y, stories.length, t);
    }

    /** {@code count} stories of {@code len} tokens sampled at temperature 1 from BOS by the inference engine (seeds 1..count). */
    private static int[][] sample(LlamaWeights w, int count, int len) {
        int[][] out = new int[count][len];
        try (LlamaModel run = new LlamaModel(w, len)) {
            for (int s = 0; s < count; s++) {
                Sampler sampler = new Sampler(w.config().vocabSize(), 1.0, 0, 1.0, s + 1);
                out[s][0] = 1; // BOS
                for (int pos = 0; pos + 1 < len; pos++) out[s][pos + 1] = sampler.sample(run.forward(out[s][pos], pos));
            }
        }
        return out;
    }
}
