package io.lowbit.examples;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Runs an example's main with System.out captured, and reads numbers back out of what it printed. */
record Captured(String out) {
    static Captured run(Examples.Main main, String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            main.run(args);
        } finally {
            System.out.flush();
            System.setOut(old);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.print(text); // keep the example's output in the surefire report
        return new Captured(text);
    }

    /** Group 1 of the first match of {@code regex} (multiline), failing with the whole output when absent. */
    String find(String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(out);
        if (!m.find()) fail("output has no match for /" + regex + "/:\n" + out);
        return m.group(1);
    }

    double number(String regex) {
        return Double.parseDouble(find(regex));
    }

    void contains(String s) {
        assertTrue(out.contains(s), "output lacks \"" + s + "\":\n" + out);
    }
}
