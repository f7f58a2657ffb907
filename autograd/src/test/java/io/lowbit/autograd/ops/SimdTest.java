package io.lowbit.autograd.ops;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.Rng;
import io.lowbit.tensor.testing.NoLeaks;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The deterministic vector exp and lane sum against their scalar definitions. */
@ExtendWith(NoLeaks.class)
class SimdTest {
    @Test
    void expIsAccurateToAFewUlp() {
        Rng rng = new Rng(3);
        int lanes = Simd.S.length();
        float[] in = new float[lanes], out = new float[lanes];
        double worst = 0;
        for (int t = 0; t < 20000; t++) {
            for (int i = 0; i < lanes; i++) in[i] = (float) (rng.nextDouble() * 170 - 86);
            Simd.exp(FloatVector.fromArray(Simd.S, in, 0)).intoArray(out, 0);
            for (int i = 0; i < lanes; i++) {
                double ref = Math.exp(in[i]);
                double ulps = Math.abs(out[i] - ref) / Math.ulp((float) ref);
                worst = Math.max(worst, ulps);
            }
        }
        assertTrue(worst <= 3, "worst error " + worst + " ulp");
    }

    @Test
    void expEdgeCases() {
        int lanes = Simd.S.length();
        float[] special = {0f, -0f, -100f, 100f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, 1f};
        float[] expect = {1f, 1f, 0f, Float.POSITIVE_INFINITY, 0f, Float.POSITIVE_INFINITY, Float.NaN, (float) Math.E};
        for (int k = 0; k < special.length; k++) {
            float[] in = new float[lanes], out = new float[lanes];
            java.util.Arrays.fill(in, special[k]);
            Simd.exp(FloatVector.fromArray(Simd.S, in, 0)).intoArray(out, 0);
            if (Float.isNaN(expect[k]) || Float.isInfinite(expect[k]) || expect[k] == 0) assertEquals(expect[k], out[0], "exp(" + special[k] + ")");
            else assertEquals(expect[k], out[0], Math.ulp(expect[k]) * 2, "exp(" + special[k] + ")");
        }
    }

    @Test
    void laneSumIsAFixedPairwiseTree() {
        int lanes = Simd.S.length();
        float[] in = new float[lanes];
        for (int i = 0; i < lanes; i++) in[i] = 1f / (i + 3);
        float[] t = in.clone(); // reference: fold the upper half onto the lower half until one lane is left
        for (int half = lanes / 2; half >= 1; half /= 2) for (int i = 0; i < half; i++) t[i] += t[i + half];
        assertEquals(t[0], Simd.sum(FloatVector.fromArray(Simd.S, in, 0)), 0f);
    }
}
