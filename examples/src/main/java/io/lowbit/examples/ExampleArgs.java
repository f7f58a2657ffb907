package io.lowbit.examples;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The examples' tiny option parser: {@code --name value} or {@code --name=value}, nothing else, so an
 * example's first lines can say {@code int steps = args.getInt("steps", 300)} and stay readable.
 * Unknown options are an error once the example has read what it knows ({@link #done()}).
 */
public final class ExampleArgs {
    private final Map<String, String> values = new LinkedHashMap<>();

    private ExampleArgs(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || a.length() == 2)
                throw new IllegalArgumentException("expected an option like --steps 100, got \"" + a + "\"");
            int eq = a.indexOf('=');
            if (eq > 0) {
                values.put(a.substring(2, eq), a.substring(eq + 1));
            } else {
                if (i + 1 >= args.length) throw new IllegalArgumentException("option " + a + " needs a value");
                values.put(a.substring(2), args[++i]);
            }
        }
    }

    /** Parses {@code args}. */
    public static ExampleArgs parse(String[] args) {
        return new ExampleArgs(args);
    }

    /** The value of {@code --name}, or {@code dflt}; consumes the option. */
    public String get(String name, String dflt) {
        String v = values.remove(name);
        return v == null ? dflt : v;
    }

    /** An integer option. */
    public int getInt(String name, int dflt) {
        String v = get(name, null);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects an integer, got \"" + v + "\"");
        }
    }

    /** A floating-point option. */
    public double getDouble(String name, double dflt) {
        String v = get(name, null);
        if (v == null) return dflt;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " expects a number, got \"" + v + "\"");
        }
    }

    /** Throws if an option was given that the example never asked for (a typo, usually). */
    public void done() {
        if (!values.isEmpty()) throw new IllegalArgumentException("unknown option(s) " + values.keySet().stream().map(k -> "--" + k).toList());
    }
}
