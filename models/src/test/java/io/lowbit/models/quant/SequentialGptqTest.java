package io.lowbit.models.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.llama.LlamaModel;
import io.lowbit.models.llama.LlamaWeights;
import io.lowbit.quant.Quantizer;
import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.tensor.testing.NoLeaks;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Whole-model sequential GPTQ on the real stories260K model with real activations: calibrated on tokens
 * sampled from the float model (8 sequences of 128, seed 1), evaluated on 4×128 other sampled tokens (seed 1000). For every layer,
 * the output error Σ over its linears ‖X·Wᵀ − X·Ŵᵀ‖² — X the linear's true (float-model) inputs on the
 * held-out text — is lower for GPTQ than for RTN at 4, 3 and 2 bits (same grid: asymmetric min-max per
 * output channel), and at 4 and 3 bits so is the end-to-end KL to the float model.
 */
@ExtendWith(NoLeaks.class)
class SequentialGptqTest {
    /** Σ over held-out inputs x of x·xᵀ for every linear of the float model: [layer][slot] → in×in, row-major. */
    private static double[][][] secondMoments(LlamaModel fp, int[][] seqs, int layers) {
        double[][][] h = new double[layers][7][];
        fp.setLinearHook((l, s, rows, n) -> {
            int in = rows.length / n;
            if (h[l][s] == null) h[l][s] = new double[in * in];
            double[] m = h[l][s];
            for (int t = 0; t < n; t++)
                for (int i = 0; i < in; i++) {
                    double xi = rows[t * in + i];
                    for (int j = 0; j < in; j++) m[i * in + j] += xi * rows[t * in + j];
                }
        });
        float[] out = new float[seqs[0].length * fp.config().vocabSize()];
        for (int[] seq : seqs) fp.forwardAll(seq, 0, out);
        fp.setLinearHook(null);
        return h;
    }

    /** Σ_x ‖(W − Ŵ)·x‖² = Σ_r Δw_r·(Σ x xᵀ)·Δw_rᵀ with W the float weight and Ŵ the model's dequantized weight. */
    private static double outputError(LinearWeight fp, LinearWeight q, double[] xxT) {
        float[] w = ((LinearWeight.Dense) fp).w().toFloatArray();
        float[] wq;
        try (var d = ((LinearWeight.Packed) q).q().dequantize()) {
            wq = d.toFloatArray();
        }
        int rows = fp.rows(), cols = fp.cols();
        double err = 0;
        double[] dw = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) dw[c] = (double) w[r * cols + c] - wq[r * cols + c];
            for (int i = 0; i < cols; i++) {
                double s = 0;
                for (int j = 0; j < cols; j++) s += xxT[i * cols + j] * dw[j];
                err += dw[i] * s;
            }
        }
        return err;
    }

    @Test
    void gptqBeatsRtnLayerByLayerAt4And3And2Bits() throws Exception {
        try (LlamaWeights w = QuantizedInferenceTest.stories(); QuantizedLlama fp = QuantizedLlama.dense(w);
             LlamaModel fpRun = new LlamaModel(fp, 128, 128)) {
            int L = w.config().numHiddenLayers();
            int[][] calib = QuantEval.sample(fpRun, 8, 128, 1);
            int[][] held = QuantEval.sample(fpRun, 4, 128, 1000);
            double[][][] x = secondMoments(fpRun, held, L);
            for (int bits : new int[] {4, 3, 2}) {
                Gptq.Config cfg = Gptq.Config.defaults(bits);
                Supplier<Quantizer> gptq = () -> new Gptq(cfg), rtn = () -> new AffineQuantizer(cfg.spec());
                try (QuantizedLlama g = ModelQuantizer.quantize(w, gptq, calib, null); QuantizedLlama r = ModelQuantizer.quantize(w, rtn, null, null);
                     LlamaModel gRun = new LlamaModel(g, 128, 128); LlamaModel rRun = new LlamaModel(r, 128, 128)) {
                    for (int l = 0; l < L; l++) {
                        double eg = 0, er = 0;
                        for (int s = 0; s < 7; s++) {
                            eg += outputError(fp.linear(l, s), g.linear(l, s), x[l][s]);
                            er += outputError(fp.linear(l, s), r.linear(l, s), x[l][s]);
                        }
                        System.out.printf("stories260K layer %d %d-bit held-out output error: GPTQ %.4f  RTN %.4f  (ratio %.3f)%n", l, bits, eg, er, eg / er);
                        assertTrue(eg < er, "layer " + l + " " + bits + "-bit: GPTQ error " + eg + " not below RTN " + er);
                    }
                    int[] stream = QuantEval.concat(held);
                    QuantEval.Result rg = QuantEval.compare(fpRun, gRun, stream, 128), rr = QuantEval.compare(fpRun, rRun, stream, 128);
                    System.out.printf("stories260K %d-bit per-channel: GPTQ ppl %.3f KL %.4f | RTN ppl %.3f KL %.4f%n", bits, rg.perplexity(), rg.meanKl(),
                            rr.perplexity(), rr.meanKl());
                    // at 2 bits per channel both destroy this 64-wide model (perplexity above the vocabulary size), so
                    // the end-to-end comparison is only asserted at 4 and 3 bits; the layer errors above are at all three
                    if (bits >= 3) assertTrue(rg.meanKl() < rr.meanKl(), bits + "-bit: GPTQ KL " + rg.meanKl() + " not below RTN " + rr.meanKl());
                }
            }
        }
    }
}
