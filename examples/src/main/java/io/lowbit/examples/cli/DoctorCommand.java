package io.lowbit.examples.cli;

import io.lowbit.tensor.cpu.CpuBackend;
import io.lowbit.tensor.cpu.Parallel;
import io.lowbit.tensor.cuda.CudaProbe;
import io.lowbit.tensor.cuda.CudaStatus;
import java.io.PrintWriter;
import jdk.incubator.vector.FloatVector;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code lowbit doctor}: what this machine offers lowbit, one fact per line: the JDK, the Vector API's
 * preferred float SIMD width, the CPU backend and its threads, and CUDA (with the exact reason when it is
 * unavailable), then which backend {@code --device auto} picks.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Print the JDK, SIMD width, CPU backend and threads, and CUDA availability (with the reason when absent).")
public final class DoctorCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        Runtime rt = Runtime.getRuntime();
        out.println("jdk:          " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")");
        var species = FloatVector.SPECIES_PREFERRED;
        out.println("simd:         FloatVector.SPECIES_PREFERRED = " + species.length() + " floats, " + species.vectorBitSize() + " bits");
        out.println("cpu backend:  " + CpuBackend.INSTANCE.name() + ", " + Parallel.threads() + " threads (" + rt.availableProcessors() + " processors)");
        out.println("heap:         max " + (rt.maxMemory() >> 20) + " MiB");
        CudaStatus st = CudaProbe.status();
        out.println("cuda:         " + (st.available() ? st.describe() : "unavailable: " + st.reason()));
        out.println("device auto:  " + (st.available() ? "cuda" : "cpu") + (st.available() ? " (CUDA probe succeeded)" : " (CUDA unavailable)"));
        out.flush();
    }
}
