package io.lowbit.examples.cli;

import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.quant.QuantMethods;
import io.lowbit.models.quant.TokenData;
import io.lowbit.models.tokenizer.Tokenizer;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.models.train.TokenDataset;
import io.lowbit.models.train.TokenizedCorpus;
import io.lowbit.models.train.TrainConfig;
import io.lowbit.models.train.Trainer;
import io.lowbit.models.train.methods.ModuLoRATraining;
import io.lowbit.quant.modulora.LoraConfig;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.io.Safetensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lowbit finetune}: LoRA-family fine-tuning of a pretrained checkpoint on the shared {@link Trainer}
 * ({@link ModuLoRATraining}): ModuLoRA over any quantizer, QLoRA (NF4 + double quantization) or fp LoRA. The data
 * (a built-in corpus, a text file or a {@code .ids} file) is encoded with the checkpoint's tokenizer and split like
 * pretraining (last 5% held out). Prints validation perplexity before and after, tokens/s and the measured memory by
 * component; writes the adapters in PEFT's layout and a merged Hugging Face checkpoint next to them.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = {"Fine-tune low-rank adapters over a frozen base: --method modulora (base quantized by --quantizer rtn|nf4|gptq at --bits), "
                + "qlora (NF4 + double quantization) or lora (full-precision base). Only the adapters train.",
                "--out gets adapter_model.safetensors + adapter_config.json (PEFT names) and a merged checkpoint (config.json, model.safetensors "
                        + "with W = deq(Q) + (alpha/r)*B*A in F32, plus the base's tokenizer) that eval and generate load; also finetune.json, "
                        + "metrics.csv, loss.png and the resumable checkpoint/."})
public final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--method", defaultValue = "modulora", description = "modulora | qlora | lora (default ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--checkpoint", required = true, description = "pretrained float checkpoint: Hugging Face directory or llama2.c .bin")
    Path checkpoint;

    @Option(names = "--quantizer", defaultValue = "gptq", description = "modulora's base quantizer: rtn | nf4 | gptq (default ${DEFAULT-VALUE})")
    String quantizer;

    @Option(names = "--bits", defaultValue = "3", description = "modulora's base bits: 2, 3, 4 or 8 (nf4: 4) (default ${DEFAULT-VALUE})")
    int bits;

    @Option(names = "--group", defaultValue = "64", description = "rtn/gptq input columns per scale group, -1 = per output channel (default ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--calib", defaultValue = "32", description = "GPTQ calibration windows of --seq tokens, evenly spaced in the training split (default ${DEFAULT-VALUE})")
    int calib;

    @Option(names = "--data", defaultValue = "sotu",
            description = "built-in corpus (sotu, moby-dick), a UTF-8 text file, or a .ids token file (default ${DEFAULT-VALUE})")
    String data;

    @Option(names = "--tokenizer", description = "tokenizer for text data (default: the checkpoint directory's tokenizer.json / tokenizer.model)")
    Path tokenizer;

    @Option(names = "--out", defaultValue = "runs/finetune", description = "output directory (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--resume", description = "continue from <out>/checkpoint")
    boolean resume;

    @Option(names = "--steps", defaultValue = "200", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", defaultValue = "8", description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seq", defaultValue = "128", description = "sequence length (default ${DEFAULT-VALUE})")
    int seq;

    @Option(names = "--lr", defaultValue = "1e-3", description = "peak learning rate, warmup 10%% of the steps then cosine to 10%% (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--rank", defaultValue = "8", description = "LoRA rank r (default ${DEFAULT-VALUE})")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha; the update is scaled by alpha/r (default ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--dropout", defaultValue = "0.05", description = "dropout on the adapter input (default ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--eval-windows", defaultValue = "64", description = "validation windows per check, 0 = all (default ${DEFAULT-VALUE})")
    int evalWindows;

    @Option(names = "--save-every", defaultValue = "50", description = "resumable checkpoint every N steps, 0 = only at the end (default ${DEFAULT-VALUE})")
    int saveEvery;

    @Option(names = "--checkpointing", description = "recompute each decoder block in backward (less activation memory)")
    boolean checkpointing;

    @Option(names = "--seed", defaultValue = "42", description = "seed of data order, adapter init and dropout (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws Exception {
        LoraConfig lora = new LoraConfig(rank, alpha, dropout, LoraConfig.LLAMA_TARGETS);
        String base = switch (method) {
            case "modulora" -> quantizer + " " + bits + "-bit" + (quantizer.equals("nf4") ? "" : group > 0 ? " g" + group : " per-channel");
            case "qlora" -> "nf4 + double quantization";
            case "lora" -> "full precision";
            default -> throw new IllegalArgumentException("unknown --method '" + method + "'; choose modulora, qlora or lora");
        };
        var quantizers = method.equals("modulora") ? QuantMethods.of(quantizer, bits, group, false, false) : null; // checks the arguments early
        try (LlamaForCausalLM model = LlamaForCausalLM.load(checkpoint)) {
            int[] ids = tokens(model.config().vocabSize());
            if (seq > model.config().maxPositionEmbeddings())
                throw new IllegalArgumentException("--seq " + seq + " exceeds the checkpoint's max_position_embeddings " + model.config().maxPositionEmbeddings());
            TokenDataset ds = new TokenDataset(ids, 0.05, seq, seed);
            ModuLoRATraining m = switch (method) {
                case "qlora" -> ModuLoRATraining.qlora(lora);
                case "lora" -> ModuLoRATraining.lora(lora);
                default -> ModuLoRATraining.modulora(quantizers, lora, ds.calibrationBatch(calib));
            };
            Files.createDirectories(out);
            TrainConfig cfg = new TrainConfig(steps, batch, 1, lr, Math.max(1, steps / 10), 0.1, 0.0, 0.9, 0.999, 1e-8, TrainConfig.Optim.ADAMW, false,
                    1.0, checkpointing, Math.max(1, steps / 10), evalWindows, saveEvery, 10, seed, out, resume);
            System.out.printf(Locale.ROOT, "finetune %s (base %s, r %d, alpha %s, dropout %s): %,d training / %,d validation tokens, %d steps of %,d tokens%n",
                    method, base, rank, fmt(alpha), fmt(dropout), ds.trainTokens(), ds.validTokens(), steps, cfg.tokensPerStep(seq));
            try (m; Trainer trainer = new Trainer(model, m, ds, cfg, System.out)) {
                double before = trainer.validate();
                System.out.printf(Locale.ROOT, "%s: validation perplexity %.2f %s%n", method, Math.exp(before),
                        trainer.step() == 0 ? "before fine-tuning" : "at resumed step " + trainer.step());
                Trainer.Result r = trainer.run();
                if (r.failed()) {
                    System.out.println("fine-tuning failed: " + r.failure());
                    return 1;
                }
                System.out.printf(Locale.ROOT, "%s: validation perplexity %.2f -> %.2f after %d steps; %.0f tokens/s%n", method, Math.exp(before),
                        r.finalValPerplexity(), r.stepsDone(), r.tokensPerSecond());
                System.out.print(r.memory().format());
                System.out.printf(Locale.ROOT, "  %-12s %12s (dequantized tiles, not in the sum)%n", "scratch", MemoryReport.mib(r.memory().peak(MemoryCategory.SCRATCH)));
                export(model, m, before, r, base);
            }
        }
        System.out.println("wrote " + out + ": adapter_model.safetensors, adapter_config.json, merged model.safetensors + config.json, finetune.json");
        System.out.println("try: ./lowbit eval --checkpoint " + out + " --data <text>   or   ./lowbit generate --checkpoint " + out + " --prompt \"...\"");
        return 0;
    }

    /** The data's token ids: a built-in corpus or text encoded paragraph by paragraph with the checkpoint's tokenizer, or a .ids file. */
    private int[] tokens(int vocab) throws IOException {
        int[] ids;
        if (data.endsWith(".ids")) {
            ids = TokenData.readIds(Path.of(data));
        } else {
            String text;
            if (TokenizedCorpus.BUILT_INS.containsKey(data)) text = TokenizedCorpus.builtInText(data);
            else if (Files.isRegularFile(Path.of(data))) text = Files.readString(Path.of(data), StandardCharsets.UTF_8);
            else throw new IOException("--data " + data + ": neither a built-in corpus " + TokenizedCorpus.BUILT_INS.keySet() + " nor a file");
            Tokenizer tok = TokenData.loadTokenizer(tokenizer, checkpoint);
            ids = TokenizedCorpus.encodeParagraphs(tok, text);
        }
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("--data " + data + ": token id " + ids[i] + " at index " + i + " is outside the model's vocabulary [0, " + vocab + ")");
        return ids;
    }

    /** Adapters (PEFT layout), the merged checkpoint with the base's tokenizer, and finetune.json. */
    private void export(LlamaForCausalLM model, ModuLoRATraining m, double before, Trainer.Result r, String base) throws IOException {
        Safetensors.write(out.resolve("adapter_model.safetensors"), m.adapters(), Map.of("format", "pt"));
        AtomicFiles.writeString(out.resolve("adapter_config.json"), Json.writePretty(m.adapterConfig(checkpoint.toString())));
        m.mergeForExport(model);
        model.save(out);
        Path tok = tokenizer;
        if (tok == null && Files.isDirectory(checkpoint))
            for (String t : new String[] {"tokenizer.json", "tokenizer.model"}) if (tok == null && Files.exists(checkpoint.resolve(t))) tok = checkpoint.resolve(t);
        if (tok != null) {
            Path dst = out.resolve(tok.getFileName().toString().endsWith(".json") ? "tokenizer.json" : "tokenizer.model");
            if (!Files.exists(dst) || !Files.isSameFile(tok, dst)) Files.copy(tok, dst, StandardCopyOption.REPLACE_EXISTING);
        }
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("method", method);
        res.put("base", base);
        res.put("checkpoint", checkpoint.toString());
        res.put("data", data);
        res.put("steps", r.stepsDone());
        res.put("batch", batch);
        res.put("seq", seq);
        res.put("seed", seed);
        res.put("val_ppl_before", Math.exp(before));
        res.put("val_ppl_after", r.finalValPerplexity());
        res.put("tokens_per_s", r.tokensPerSecond());
        Map<String, Object> mem = new LinkedHashMap<>();
        for (MemoryCategory c : MemoryCategory.values()) mem.put(c.name().toLowerCase(Locale.ROOT), r.memory().peak(c));
        res.put("peak_bytes", mem);
        AtomicFiles.writeString(out.resolve("finetune.json"), Json.writePretty(res));
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
