package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.cuda.CudaProbe;
import io.lowbit.tensor.cuda.CudaStatus;
import java.io.PrintWriter;
import java.io.StringWriter;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code lowbit doctor} prints each fact on its own line, with CUDA's reason when it is absent. */
class DoctorCommandTest {
    @Test
    void printsJdkSimdCpuAndCuda() {
        CommandLine cl = Lowbit.commandLine();
        StringWriter sw = new StringWriter();
        cl.setOut(new PrintWriter(sw));
        assertEquals(0, cl.execute("doctor"));
        String[] lines = sw.toString().split("\n");
        assertEquals(6, lines.length, sw.toString());
        assertTrue(lines[0].startsWith("jdk:          " + Runtime.version()), lines[0]);
        var sp = FloatVector.SPECIES_PREFERRED;
        assertEquals("simd:         FloatVector.SPECIES_PREFERRED = " + sp.length() + " floats, " + sp.vectorBitSize() + " bits", lines[1]);
        assertTrue(lines[2].startsWith("cpu backend:  cpu, " + Parallel.threads() + " threads ("), lines[2]);
        assertTrue(lines[3].matches("heap:         max \\d+ MiB"), lines[3]);
        CudaStatus st = CudaProbe.status();
        if (st.available()) {
            assertEquals("cuda:         " + st.describe(), lines[4]);
            assertEquals("device auto:  cuda (CUDA probe succeeded)", lines[5]);
        } else {
            assertEquals("cuda:         unavailable: " + st.reason(), lines[4]);
            assertEquals("device auto:  cpu (CUDA unavailable)", lines[5]);
        }
    }
}
