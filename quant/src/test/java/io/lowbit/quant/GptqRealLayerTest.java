package io.lowbit.quant;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.quant.gptq.Gptq;
import io.lowbit.quant.uniform.AffineQuantizedTensor;
import io.lowbit.quant.uniform.AffineQuantizer;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The GPTQ spec's acceptance check on a real layer with real activations: the attention projections of
 * layer 0 of the trained stories260K checkpoint (llama2.c format), fed with their true inputs, the
 * RMS-normalized token embeddings. GPTQ is calibrated on the even token ids and evaluated on the odd ones.
 */
@ExtendWith(NoLeaks.class)
class GptqRealLayerTest {
    private static FloatBufferView load() throws IOException {
        String shared = System.getProperty("lowbit.shared");
        assertNotNull(shared, "system property lowbit.shared is not set (run with -Dlowbit.shared=/path/to/shared)");
        Path p = Path.of(shared, "models", "stories260K", "stories260K.bin");
        assertTrue(Files.isRegularFile(p), "missing test asset " + p);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = b.getInt();
        float[] f = new float[(b.remaining()) / 4];
        b.asFloatBuffer().get(f);
        return new FloatBufferView(h, f);
    }

    /** Header (dim, hidden, layers, heads, kv heads, vocab, seq len) and the float32 payload after it. */
    record FloatBufferView(int[] header, float[] data) {}

    @Test
    void gptqBeatsRtnOnLayer0AttentionProjections() throws IOException {
        FloatBufferView m = load();
        int dim = m.header()[0], layers = m.header()[2], heads = m.header()[3], kvHeads = m.header()[4], vocab = Math.abs(m.header()[5]);
        assertEquals(64, dim);
        int kvDim = dim / heads * kvHeads;
        float[] f = m.data();
        int emb = 0, rmsAtt = emb + vocab * dim, wq = rmsAtt + layers * dim;
        int wk = wq + layers * dim * dim, wv = wk + layers * kvDim * dim;
        // layer-0 inputs: x = rmsnorm(embedding[token])·g
        float[] x = new float[vocab * dim];
        for (int t = 0; t < vocab; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) f[emb + t * dim + i] * f[emb + t * dim + i];
            double inv = 1 / Math.sqrt(ss / dim + 1e-5);
            for (int i = 0; i < dim; i++) x[t * dim + i] = (float) (f[emb + t * dim + i] * inv * f[rmsAtt + i]);
        }
        int half = vocab / 2;
        float[] calib = new float[half * dim], held = new float[half * dim];
        for (int t = 0; t < vocab; t++) System.arraycopy(x, t * dim, (t % 2 == 0 ? calib : held), (t / 2) * dim, dim);
        int[][] layersToTest = {{wq, dim}, {wk, kvDim}, {wv, kvDim}};
        String[] names = {"wq", "wk", "wv"};
        try (Tensor calibT = Tensor.of(calib, half, dim)) {
            for (int li = 0; li < 3; li++) {
                int off = layersToTest[li][0], out = layersToTest[li][1];
                float[] w = java.util.Arrays.copyOfRange(f, off, off + out * dim);
                try (Tensor wt = Tensor.of(w, out, dim)) {
                    for (int bits : new int[] {4, 3, 2}) {
                        Gptq.Config cfg = Gptq.Config.defaults(bits);
                        Gptq gptq = new Gptq(cfg);
                        gptq.observe(calibT);
                        try (AffineQuantizedTensor g = gptq.quantize(wt); AffineQuantizedTensor r = new AffineQuantizer(cfg.spec()).quantize(wt)) {
                            double eg = GptqTest.outputError(held, half, w, Fixtures.dense(g), out, dim);
                            double er = GptqTest.outputError(held, half, w, Fixtures.dense(r), out, dim);
                            assertTrue(eg < er, names[li] + " " + bits + "-bit: GPTQ held-out output error " + eg + " not below RTN " + er);
                            System.out.printf("stories260K layer0 %s %d-bit: held-out ||XW^T - XQ^T|| GPTQ %.4f  RTN %.4f  (ratio %.3f)%n", names[li], bits, eg, er, eg / er);
                        }
                    }
                }
            }
        }
    }
}
