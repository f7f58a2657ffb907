package io.lowbit.examples;

import io.lowbit.examples.cli.Lowbit;
import io.lowbit.tensor.testing.NoLeaks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** {@code lowbit example}: the list, running one by name with passed-through options, and errors. */
@ExtendWith(NoLeaks.class)
class ExampleCommandTest {
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter out = new StringWriter(), err = new StringWriter();
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            CommandLine cl = Lowbit.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            return new Run(code, out + bytes.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(old);
        }
    }

    @Test
    void listShowsEveryExampleWithItsDescription() {
        Run r = run("example", "--list");
        assertEquals(0, r.code(), r.err());
        for (Examples.Entry e : Examples.ALL) assertTrue(r.out().contains(e.name() + " ") && r.out().contains(e.description()), r.out());
        Set<String> names = new HashSet<>();
        for (Examples.Entry e : Examples.ALL) assertTrue(names.add(e.name().toLowerCase()), "duplicate example name " + e.name());
    }

    @Test
    void runsByNameAndPassesOptionsThrough() {
        Run r = run("example", "tensors-and-autograd", "--steps", "20");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("step   20  loss"), r.out());
        assertFalse(r.out().contains("step  300"), "--steps reached the example");
        assertEquals(Examples.find("TENSORSANDAUTOGRAD"), Examples.find("tensors_and_autograd"));
    }

    @Test
    void errorsAreClear() {
        Run unknown = run("example", "NoSuchExample");
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("no example named 'NoSuchExample'"), unknown.err());
        Run badOption = run("example", "TensorsAndAutograd", "--stpes", "3");
        assertEquals(1, badOption.code());
        assertTrue(badOption.err().contains("unknown option(s) [--stpes]"), badOption.err());
        Run help = run("example", "QuickStart", "--help");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("QuickStart: " + QuickStart.DESCRIPTION) && help.out().contains("QuickStart.java"), help.out());
        Run none = run("example");
        assertEquals(2, none.code());
        assertTrue(none.out().contains("usage: lowbit example NAME"), none.out());
    }
}
