package io.lowbit.models.quant;

import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.Quantizer;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import java.io.PrintStream;
import java.util.function.Supplier;

/**
 * Quantizes every decoder linear of a float LLaMA with any {@link Quantizer}. Data-free methods (RTN, NF4)
 * quantize each weight directly. Calibrated methods (GPTQ) run sequentially as in Frantar et al. (2023,
 * §5 "sequential"): calibration sequences go through the model block by block; inside block l the linears
 * are quantized in four groups in execution order — {q,k,v}, {o}, {gate,up}, {down} — each group's
 * quantizers observing their real inputs computed with every earlier linear (earlier blocks and earlier
 * groups of this block) already quantized; after the block, the calibration hidden states are advanced
 * through the quantized block. The activations come from {@link LlamaModel}'s linear hook.
 */
public final class ModelQuantizer {
    private static final int[][] GROUPS = {
            {QuantizedLlama.Q, QuantizedLlama.K, QuantizedLlama.V}, {QuantizedLlama.O},
            {QuantizedLlama.GATE, QuantizedLlama.UP}, {QuantizedLlama.DOWN}};

    private ModelQuantizer() {}

    /**
     * A quantized copy of {@code w} (which is not modified and stays owned by the caller): dense parts are
     * copied, each linear gets a fresh quantizer from {@code method}.
     *
     * @param calibration token sequences (each at most max_position_embeddings long); required when the
     *                    method needs calibration, ignored otherwise
     * @param log         progress lines (may be null)
     */
    public static QuantizedLlama quantize(LlamaWeights w, Supplier<Quantizer> method, int[][] calibration, PrintStream log) {
        var c = w.config();
        int L = c.numHiddenLayers();
        Tensor emb = copy(w.tokEmbeddings()), norm = null, head = null;
        Tensor[] an = new Tensor[L], fn = new Tensor[L];
        QuantizedLlama q = null;
        try {
            norm = copy(w.norm());
            head = c.tieWordEmbeddings() ? emb : copy(w.lmHead());
            LinearWeight[][] lin = new LinearWeight[L][7];
            for (int l = 0; l < L; l++) {
                an[l] = copy(w.layers().get(l).attnNorm());
                fn[l] = copy(w.layers().get(l).ffnNorm());
                for (int s = 0; s < 7; s++) lin[l][s] = new LinearWeight.Dense(w.layers().get(l).linear(s), false);
            }
            q = new QuantizedLlama(c, w.ropeLayout(), emb, an, fn, lin, norm, head, true);
        } catch (RuntimeException e) {
            if (q != null) q.close();
            else {
                emb.close();
                if (norm != null) norm.close();
                if (head != null && head != emb) head.close();
                for (Tensor t : an) if (t != null) t.close();
                for (Tensor t : fn) if (t != null) t.close();
            }
            throw e;
        }
        try {
            boolean calibrate = method.get().needsCalibration();
            if (!calibrate) {
                for (int l = 0; l < L; l++) {
                    for (int s = 0; s < 7; s++) q.setLinear(l, s, new LinearWeight.Packed(method.get().quantize(w.layers().get(l).linear(s))));
                    if (log != null) log.printf("quantized layer %d/%d%n", l + 1, L);
                }
                return q;
            }
            sequential(w, q, method, calibration, log);
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    private static void sequential(LlamaWeights w, QuantizedLlama q, Supplier<Quantizer> method, int[][] calib, PrintStream log) {
        if (calib == null || calib.length == 0) throw new IllegalArgumentException("a calibrated method needs calibration sequences");
        var c = w.config();
        int dim = c.hiddenSize(), longest = 0;
        for (int[] s : calib) longest = Math.max(longest, s.length);
        if (longest == 0) throw new IllegalArgumentException("calibration sequences are empty");
        int chunk = Math.min(longest, 128);
        try (LlamaModel run = new LlamaModel(q, longest, chunk)) {
            float[][] hidden = new float[calib.length][];
            for (int s = 0; s < calib.length; s++) {
                hidden[s] = new float[calib[s].length * dim];
                for (int off = 0; off < calib[s].length; off += chunk) {
                    int n = Math.min(chunk, calib[s].length - off);
                    run.embed(calib[s], off, n);
                    run.storeHidden(hidden[s], off * dim, n);
                }
            }
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                final int layer = l;
                for (int[] group : GROUPS) {
                    Quantizer[] qz = new Quantizer[7];
                    for (int s : group) qz[s] = method.get();
                    run.setLinearHook((hl, slot, rows, n) -> {
                        if (hl != layer || qz[slot] == null) return;
                        try (Tensor t = Tensor.of(rows, n, rows.length / n)) {
                            qz[slot].observe(t);
                        }
                    });
                    passBlock(run, l, calib, hidden, chunk, dim, false);
                    run.setLinearHook(null);
                    for (int s : group) q.setLinear(l, s, new LinearWeight.Packed(qz[s].quantize(w.layers().get(l).linear(s))));
                }
                passBlock(run, l, calib, hidden, chunk, dim, true); // advance the calibration states through the quantized block
                if (log != null) log.printf("calibrated and quantized layer %d/%d (%s, %d sequences)%n", l + 1, c.numHiddenLayers(),
                        q.linear(l, 0) instanceof LinearWeight.Packed p ? p.q().toString() : "?", calib.length);
            }
        }
    }

    private static void passBlock(LlamaModel run, int l, int[][] calib, float[][] hidden, int chunk, int dim, boolean store) {
        for (int s = 0; s < calib.length; s++) {
            for (int off = 0; off < calib[s].length; off += chunk) {
                int n = Math.min(chunk, calib[s].length - off);
                run.loadHidden(hidden[s], off * dim, n);
                run.block(l, n, off);
                if (store) run.storeHidden(hidden[s], off * dim, n);
            }
        }
    }

    private static Tensor copy(Tensor t) {
        return t.copy().label(MemoryCategory.WEIGHTS);
    }
}
