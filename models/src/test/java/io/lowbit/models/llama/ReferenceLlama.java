package io.lowbit.models.llama;

import io.lowbit.models.LlamaConfig;
import io.lowbit.tensor.Tensor;

/**
 * A deliberately plain LLaMA forward pass in double precision, written straight from the equations with
 * no cache, no chunks and no vectors: the oracle the fast {@link LlamaModel} is checked against.
 */
final class ReferenceLlama {
    private ReferenceLlama() {}

    /** Logits [T][vocab] for every position of {@code tokens}. */
    static double[][] logits(LlamaWeights w, int[] tokens) {
        LlamaConfig c = w.config();
        int T = tokens.length, d = c.hiddenSize(), H = c.numAttentionHeads(), KV = c.numKeyValueHeads(), hd = c.headDim();
        double eps = c.rmsNormEps();
        double[] emb = w.tokEmbeddings().toDoubleArray();
        double[][] x = new double[T][d];
        for (int t = 0; t < T; t++) System.arraycopy(emb, tokens[t] * d, x[t], 0, d);
        for (LlamaWeights.Layer L : w.layers()) {
            double[][] q = new double[T][], k = new double[T][], v = new double[T][];
            for (int t = 0; t < T; t++) {
                double[] h = rmsnorm(x[t], L.attnNorm().toDoubleArray(), eps);
                q[t] = rope(matvec(L.wq(), h), H, hd, t, c, w.ropeLayout());
                k[t] = rope(matvec(L.wk(), h), KV, hd, t, c, w.ropeLayout());
                v[t] = matvec(L.wv(), h);
            }
            for (int t = 0; t < T; t++) {
                double[] att = new double[H * hd];
                int from = c.slidingWindow() > 0 ? Math.max(0, t - c.slidingWindow() + 1) : 0;
                for (int h = 0; h < H; h++) {
                    int kvh = h / (H / KV);
                    double[] p = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = from; s <= t; s++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[s][kvh * hd + i];
                        p[s] = dot / Math.sqrt(hd);
                        max = Math.max(max, p[s]);
                    }
                    double sum = 0;
                    for (int s = from; s <= t; s++) sum += (p[s] = Math.exp(p[s] - max));
                    for (int s = from; s <= t; s++)
                        for (int i = 0; i < hd; i++) att[h * hd + i] += p[s] / sum * v[s][kvh * hd + i];
                }
                double[] o = matvec(L.wo(), att);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
                double[] h = rmsnorm(x[t], L.ffnNorm().toDoubleArray(), eps);
                double[] g = matvec(L.w1(), h), u = matvec(L.w3(), h);
                for (int i = 0; i < g.length; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                double[] m = matvec(L.w2(), g);
                for (int i = 0; i < d; i++) x[t][i] += m[i];
            }
        }
        double[][] out = new double[T][];
        for (int t = 0; t < T; t++) out[t] = matvec(w.lmHead(), rmsnorm(x[t], w.norm().toDoubleArray(), eps));
        return out;
    }

    static double[] rmsnorm(double[] x, double[] g, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) o[i] = x[i] * inv * g[i];
        return o;
    }

    static double[] matvec(Tensor w, double[] x) {
        int rows = w.size(0), cols = w.size(1);
        double[] m = w.toDoubleArray(), o = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int j = 0; j < cols; j++) s += m[r * cols + j] * x[j];
            o[r] = s;
        }
        return o;
    }

    static double[] rope(double[] v, int heads, int hd, int pos, LlamaConfig c, RopeLayout layout) {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++) {
                double theta = Math.pow(c.ropeTheta(), -2.0 * i / hd);
                if (c.ropeScaling() != null) theta = c.ropeScaling().scale(theta);
                double cos = Math.cos(pos * theta), sin = Math.sin(pos * theta);
                int a = h * hd + (layout == RopeLayout.INTERLEAVED ? 2 * i : i);
                int b = layout == RopeLayout.INTERLEAVED ? a + 1 : a + hd / 2;
                double x0 = v[a], x1 = v[b];
                v[a] = x0 * cos - x1 * sin;
                v[b] = x0 * sin + x1 * cos;
            }
        return v;
    }
}
