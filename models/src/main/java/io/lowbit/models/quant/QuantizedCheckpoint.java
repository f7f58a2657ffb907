package io.lowbit.models.quant;

import io.lowbit.models.LlamaConfig;
import io.lowbit.models.llama.RopeLayout;
import io.lowbit.quant.QuantizedTensor;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.io.Safetensors;
import io.lowbit.tensor.io.SafetensorsFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A quantized LLaMA as a Hugging Face–style directory: {@code model.safetensors} + {@code config.json}.
 *
 * <ul>
 *   <li>Quantized linears are stored as their {@link QuantizedTensor#components()} under
 *       {@code <linear>.<component>} (e.g. {@code model.layers.0.self_attn.q_proj.qweight}, {@code .scales},
 *       {@code .zeros}, {@code .g_idx}; NF4: {@code .absmax_q}, {@code .absmax_scale}, {@code .absmax_mean}),
 *       byte for byte; dense linears as {@code <linear>.weight} (F32). Embedding, norms and head are F32.</li>
 *   <li>{@code config.json} is the model config plus {@code "quantization_config"} (the fields shared by all
 *       quantized linears, as strings) and {@code "lowbit_rope_layout"}: q/k rows are stored in the
 *       layout the source was trained for (llama2.c files: interleaved) — unlike the float HF writer they are
 *       not permuted, because permuting rows of packed/grouped codes is not exact for every format.</li>
 *   <li>The safetensors {@code __metadata__} repeats {@code quantization_config} and holds each linear's full
 *       config (with its rows/cols) under {@code <linear>.quantization_config}.</li>
 * </ul>
 * Loading is bit-exact; a mismatch names the tensor and the field. Both files are written atomically,
 * config.json last (its presence marks a complete checkpoint).
 */
public final class QuantizedCheckpoint {
    /** Key of the shared quantization config in config.json and in the safetensors metadata. */
    public static final String CONFIG_KEY = "quantization_config";
    /** config.json key naming the RoPE layout of the stored q/k rows. */
    public static final String ROPE_KEY = "lowbit_rope_layout";

    private QuantizedCheckpoint() {}

    /** True when {@code dir} holds a config.json with a quantization_config. */
    public static boolean isQuantized(Path dir) throws IOException {
        Path cfg = dir.resolve("config.json");
        if (!Files.isDirectory(dir) || !Files.exists(cfg)) return false;
        return Json.parseObject(Files.readString(cfg, StandardCharsets.UTF_8), cfg.toString()).containsKey(CONFIG_KEY);
    }

    /** Writes {@code m} to {@code dir} (created if needed). */
    public static void write(Path dir, QuantizedLlama m) throws IOException {
        Files.createDirectories(dir);
        LlamaConfig c = m.config();
        Map<String, Tensor> named = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, String> shared = null;
        named.put("model.embed_tokens.weight", m.tokEmbeddings());
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            named.put(p + "input_layernorm.weight", m.attnNorm(l));
            named.put(p + "post_attention_layernorm.weight", m.ffnNorm(l));
            for (int s = 0; s < 7; s++) {
                String name = QuantizedLlama.linearName(l, s);
                LinearWeight w = m.linear(l, s);
                if (w instanceof LinearWeight.Packed(QuantizedTensor q)) {
                    for (var e : q.components().entrySet()) named.put(name + "." + e.getKey(), e.getValue());
                    Map<String, String> cfg = q.quantizationConfig();
                    meta.put(name + "." + CONFIG_KEY, Json.write(cfg));
                    Map<String, String> common = common(cfg);
                    if (shared == null) shared = common;
                    else if (!shared.equals(common))
                        throw new IllegalArgumentException(name + ": quantization config " + common + " differs from the other linears' " + shared
                                + " (one checkpoint holds one method)");
                } else {
                    named.put(name + ".weight", ((LinearWeight.Dense) w).w());
                }
            }
        }
        named.put("model.norm.weight", m.norm());
        if (!c.tieWordEmbeddings()) named.put("lm_head.weight", m.lmHead());
        if (shared == null) throw new IllegalArgumentException("model has no quantized linear; write it as a float checkpoint instead");
        meta.put("format", "pt");
        meta.put(CONFIG_KEY, Json.write(shared));
        meta.put(ROPE_KEY, m.ropeLayout().name());
        Safetensors.write(dir.resolve("model.safetensors"), named, meta);
        Map<String, Object> json = c.toJson();
        json.put(CONFIG_KEY, new LinkedHashMap<String, Object>(shared));
        json.put(ROPE_KEY, m.ropeLayout().name());
        AtomicFiles.writeString(dir.resolve("config.json"), Json.writePretty(json));
    }

    /** The per-tensor config without its shape fields: what all linears of one checkpoint share. */
    private static Map<String, String> common(Map<String, String> cfg) {
        Map<String, String> m = new TreeMap<>(cfg);
        m.remove("rows");
        m.remove("cols");
        return m;
    }

    /** Reads a checkpoint written by {@link #write}; the result owns every tensor. */
    public static QuantizedLlama read(Path dir) throws IOException {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.exists(cfgFile)) throw new IOException(dir + ": no config.json");
        Map<String, Object> json = Json.parseObject(Files.readString(cfgFile, StandardCharsets.UTF_8), cfgFile.toString());
        LlamaConfig c = LlamaConfig.fromJson(json, cfgFile.toString());
        if (!(json.get(CONFIG_KEY) instanceof Map<?, ?> qc)) throw new IOException(cfgFile + ": no \"" + CONFIG_KEY + "\" object (not a quantized checkpoint)");
        Map<String, String> shared = new TreeMap<>();
        for (var e : qc.entrySet()) shared.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
        RopeLayout layout = parseLayout(json.get(ROPE_KEY), cfgFile.toString());
        List<AutoCloseable> made = new ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(dir)) {
            Map<String, String> meta = st.metadata();
            String metaCfg = meta.get(CONFIG_KEY);
            if (metaCfg == null) throw new IllegalArgumentException(dir + "/model.safetensors: __metadata__ has no " + CONFIG_KEY);
            compare("model.safetensors __metadata__", strings(Json.parseObject(metaCfg, "__metadata__." + CONFIG_KEY)), "config.json", shared);
            if (meta.get(ROPE_KEY) != null && !meta.get(ROPE_KEY).equals(layout.name()))
                throw new IllegalArgumentException("field '" + ROPE_KEY + "': config.json says " + layout + ", model.safetensors __metadata__ says " + meta.get(ROPE_KEY));
            int L = c.numHiddenLayers(), d = c.hiddenSize();
            Tensor emb = dense(st, made, "model.embed_tokens.weight", c.vocabSize(), d);
            Tensor[] an = new Tensor[L], fn = new Tensor[L];
            LinearWeight[][] lin = new LinearWeight[L][7];
            int[][] shapes = {{c.qDim(), d}, {c.kvDim(), d}, {c.kvDim(), d}, {d, c.qDim()}, {c.intermediateSize(), d}, {c.intermediateSize(), d}, {d, c.intermediateSize()}};
            for (int l = 0; l < L; l++) {
                String p = "model.layers." + l + ".";
                an[l] = dense(st, made, p + "input_layernorm.weight", d);
                fn[l] = dense(st, made, p + "post_attention_layernorm.weight", d);
                for (int s = 0; s < 7; s++) {
                    String name = QuantizedLlama.linearName(l, s);
                    LinearWeight w;
                    if (st.contains(name + ".weight")) w = new LinearWeight.Dense(dense(st, made, name + ".weight", shapes[s]), true);
                    else w = new LinearWeight.Packed(packed(st, meta, shared, name, shapes[s]));
                    made.add(w);
                    lin[l][s] = w;
                }
            }
            Tensor norm = dense(st, made, "model.norm.weight", d);
            Tensor head = c.tieWordEmbeddings() ? emb : dense(st, made, "lm_head.weight", c.vocabSize(), d);
            return new QuantizedLlama(c, layout, emb, an, fn, lin, norm, head, true);
        } catch (IOException | RuntimeException e) {
            for (AutoCloseable a : made) {
                try {
                    a.close();
                } catch (Exception ignored) {
                    // already failing: keep the original error
                }
            }
            throw e;
        }
    }

    private static QuantizedTensor packed(SafetensorsFile st, Map<String, String> meta, Map<String, String> shared, String name, int[] shape) {
        String cfgText = meta.get(name + "." + CONFIG_KEY);
        if (cfgText == null)
            throw new IllegalArgumentException("tensor '" + name + "': neither " + name + ".weight nor its " + CONFIG_KEY + " in __metadata__");
        Map<String, String> cfg = strings(Json.parseObject(cfgText, name + "." + CONFIG_KEY));
        compare("tensor '" + name + "'", common(cfg), "config.json " + CONFIG_KEY, shared);
        String rows = cfg.get("rows"), cols = cfg.get("cols");
        if (!String.valueOf(shape[0]).equals(rows) || !String.valueOf(shape[1]).equals(cols))
            throw new IllegalArgumentException("tensor '" + name + "': field rows/cols = " + rows + "/" + cols + ", config.json implies "
                    + Arrays.toString(shape));
        Map<String, Tensor> comps = new LinkedHashMap<>();
        String prefix = name + ".";
        for (String n : st.names())
            if (n.startsWith(prefix) && n.indexOf('.', prefix.length()) < 0) comps.put(n.substring(prefix.length()), st.tensor(n));
        if (comps.isEmpty()) throw new IllegalArgumentException("tensor '" + name + "': no packed components (" + prefix + "qweight, ...) in the file");
        try {
            return QuantizedTensor.fromComponents(comps, cfg);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    private static void compare(String what, Map<String, String> a, String otherWhat, Map<String, String> b) {
        for (String k : new java.util.TreeSet<>(union(a, b))) {
            String x = a.get(k), y = b.get(k);
            if (x == null ? y != null : !x.equals(y))
                throw new IllegalArgumentException(what + ": quantization field '" + k + "' is " + x + " but " + otherWhat + " says " + y);
        }
    }

    private static java.util.Set<String> union(Map<String, String> a, Map<String, String> b) {
        java.util.Set<String> s = new java.util.HashSet<>(a.keySet());
        s.addAll(b.keySet());
        return s;
    }

    private static Map<String, String> strings(Map<String, Object> m) {
        Map<String, String> out = new TreeMap<>();
        for (var e : m.entrySet()) out.put(e.getKey(), String.valueOf(e.getValue()));
        return out;
    }

    private static RopeLayout parseLayout(Object v, String src) {
        if (v == null) return RopeLayout.HALF;
        try {
            return RopeLayout.valueOf(String.valueOf(v));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(src + ": field '" + ROPE_KEY + "' = " + v + " is not one of " + Arrays.toString(RopeLayout.values()));
        }
    }

    private static Tensor dense(SafetensorsFile st, List<AutoCloseable> made, String name, int... shape) {
        if (!st.contains(name)) throw new IllegalArgumentException("checkpoint has no tensor '" + name + "'");
        Safetensors.Entry e = st.entry(name);
        if (!Arrays.equals(e.shape(), shape))
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(e.shape()) + ", config.json implies " + Arrays.toString(shape));
        if (e.dtype() != DType.F32) throw new IllegalArgumentException("tensor '" + name + "' is " + e.dtype() + ", expected F32");
        Tensor mapped = st.tensor(name);
        Tensor out = Tensor.empty(DType.F32, MemoryCategory.WEIGHTS, shape);
        made.add(out);
        MemorySegment.copy(mapped.segment(), mapped.byteOffset(), out.segment(), 0, out.numel() * 4);
        return out;
    }
}
