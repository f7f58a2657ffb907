package io.lowbit.tensor.cpu;

import io.lowbit.tensor.Rng;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The fixed lane-sum tree: its scalar form gives the vector form's bits, and both differ from a plain running sum. */
class LanesTest {
    @Test
    void scalarTreeIsTheVectorTreeBitForBit() {
        int len = FloatVector.SPECIES_PREFERRED.length();
        Rng r = new Rng(11);
        int differsFromRunningSum = 0;
        for (int trial = 0; trial < 500; trial++) {
            float[] a = new float[len + 2];
            for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextGaussian() * Math.pow(10, (i % 5) - 2)); // magnitudes 1e-2 … 1e2
            float tree = Lanes.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, a, 2));
            float running = 0;
            for (int i = 0; i < len; i++) running += a[2 + i];
            if (Float.floatToRawIntBits(running) != Float.floatToRawIntBits(tree)) differsFromRunningSum++;
            assertEquals(Float.floatToRawIntBits(tree), Float.floatToRawIntBits(Lanes.sum(a.clone(), 2)), "trial " + trial);
        }
        if (len > 2) assertTrue(differsFromRunningSum > 0, "the inputs never separate the tree from a running sum: the test would not see a wrong order");
    }
}
