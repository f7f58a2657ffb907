package io.lowbit.tensor.cuda;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs the CUDA C of {@link KernelSource} on the CPU: the exact source NVRTC gets is compiled with g++
 * against a small emulation of the CUDA features it uses (a block's threads are real threads, so the
 * shared-memory reductions and barriers really run), then checked against reference loops (conversions,
 * every elementwise op, reductions, softmax, RMSNorm, RoPE, cross-entropy, indexing, NF4, b-bit
 * dequantization, fake quantization). This proves the kernels' arithmetic on machines without a GPU; it
 * cannot prove the JCuda launch plumbing, which only {@link CudaOpsTest} and the backend suites do on a GPU.
 */
class KernelEmulationTest {
    private static final Pattern RESULT = Pattern.compile("(float|double) kernels: (\\d+) passed, (\\d+) failed");

    private static String resource(String name) throws IOException {
        try (InputStream in = KernelEmulationTest.class.getResourceAsStream(name)) {
            assertNotNull(in, "test resource " + name + " is missing");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static boolean hasGpp() {
        try {
            Process p = new ProcessBuilder("g++", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** One namespace per element type; extern "C" is dropped so both modules fit in one program. */
    static String program(String checks) {
        StringBuilder sb = new StringBuilder("#include \"emulation_prelude.h\"\n");
        for (String t : new String[] {"float", "double"}) {
            sb.append("namespace k_").append(t).append(" {\n")
                    .append(KernelSource.module(t).replace("extern \"C\" ", ""))
                    .append('\n').append(checks).append("\n}\n");
        }
        sb.append("""
                int main(int argc, char** argv) {
                    uint64_t step = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5;
                    int a = k_float::run(step);
                    int b = k_double::run(step);
                    return a | b;
                }
                """);
        return sb.toString();
    }

    @Test
    void kernelsComputeTheirDefinitionsOnTheCpu() throws Exception {
        Assumptions.assumeTrue(hasGpp(), "g++ not found: the CUDA kernels' CPU emulation needs a C++20 compiler");
        Path dir = Files.createTempDirectory("lowbit-kernels");
        try {
            Files.writeString(dir.resolve("emulation_prelude.h"), resource("emulation_prelude.h"));
            Files.writeString(dir.resolve("kernels.cpp"), program(resource("emulation_checks.cpp")));
            Process cc = new ProcessBuilder("g++", "-std=c++20", "-O1", "-pthread", "-w", "-o", "kernels", "kernels.cpp")
                    .directory(dir.toFile()).redirectErrorStream(true).start();
            String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(cc.waitFor(300, TimeUnit.SECONDS), "g++ did not finish");
            assertEquals(0, cc.exitValue(), "the kernel source does not compile as C++ under emulation:\n" + ccOut);
            // every 13th float bit pattern for the f16 rounding check (run the binary with 1 for all 2^32)
            Process run = new ProcessBuilder(dir.resolve("kernels").toString(), "13").directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(run.waitFor(300, TimeUnit.SECONDS), "the emulated kernels did not finish");
            assertEquals(0, run.exitValue(), "emulated kernel checks failed:\n" + out);
            Matcher m = RESULT.matcher(out);
            int groups = 0;
            while (m.find()) {
                groups++;
                assertEquals("0", m.group(3), out);
                assertTrue(Integer.parseInt(m.group(2)) >= 40, "too few checks ran: " + out);
            }
            assertEquals(2, groups, "both element types report: " + out);
            System.out.print(out);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
