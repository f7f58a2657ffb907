package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.io.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code lowbit memory}: the text breakdown and the JSON object. */
class MemoryCommandTest {
    private static String run(int expectedRc, String... args) {
        CommandLine cl = Lowbit.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        assertEquals(expectedRc, cl.execute(args), out + "\n" + err);
        return out + err.toString();
    }

    @Test
    void jsonHasTheBreakdownAndFits() {
        Map<String, Object> m = Json.parseObject(run(0, "memory", "--preset", "7B", "--method", "loqt", "--batch", "1", "--seq", "256", "--json"), "memory");
        long w = ((Number) m.get("weights_bytes")).longValue(), o = ((Number) m.get("optimizer_bytes")).longValue();
        long g = ((Number) m.get("gradients_bytes")).longValue(), a = ((Number) m.get("activations_bytes")).longValue();
        long total = ((Number) m.get("total_bytes")).longValue();
        assertTrue(Math.abs(w + o + g + a - total) <= 4, "total = sum of parts");
        assertEquals(Boolean.TRUE, m.get("fits"));
        assertEquals(1024L, ((Number) m.get("rank")).longValue());
        Map<String, Object> full = Json.parseObject(run(0, "memory", "--preset", "7B", "--method", "full", "--json"), "memory");
        assertEquals(Boolean.FALSE, full.get("fits"));
    }

    @Test
    void textShowsThePaperColumn() {
        String s = run(0, "memory", "--preset", "1B", "--method", "loqt");
        assertTrue(s.contains("rank 512") && s.contains("paper column      3.06"), s);
        assertTrue(s.contains("activations   not estimated"), s);
    }

    @Test
    void badMethodIsAClearError() {
        String s = run(1, "memory", "--preset", "60M", "--method", "qat");
        assertTrue(s.contains("unknown method 'qat'"), s);
    }
}
