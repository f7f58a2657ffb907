package io.lowbit.examples.cli;

import io.lowbit.examples.Examples;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code lowbit example NAME [--option value ...]}: runs one of the tutorial examples of
 * {@link io.lowbit.examples.Examples}; everything after the name goes to the example's main.
 * {@code lowbit example --list} prints every example with its description.
 */
@Command(name = "example", mixinStandardHelpOptions = true,
        description = "Run a tutorial example by name (everything after NAME is passed to it); --list shows them all.")
public final class ExampleCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--list", description = "List the examples with their descriptions.")
    boolean list;

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "Example name, e.g. TensorsAndAutograd (case-insensitive).")
    String name;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "Arguments for the example, e.g. --steps 100.")
    List<String> args = new ArrayList<>();

    /** The command with option parsing stopped at NAME, so the example's own options pass through untouched. */
    public static CommandLine create() {
        CommandLine cl = new CommandLine(new ExampleCommand());
        cl.setStopAtPositional(true);
        return cl;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (list || name == null) {
            if (!list) out.println("usage: lowbit example NAME [ARGS...]; the examples, in tutorial order:");
            for (Examples.Entry e : Examples.ALL) out.printf("  %-24s %s%n", e.name(), e.description());
            out.flush();
            return list ? 0 : 2;
        }
        Examples.Entry entry = Examples.find(name).orElseThrow(() -> new IllegalArgumentException(
                "no example named '" + name + "'; 'lowbit example --list' shows them"));
        if (args.contains("--help") || args.contains("-h")) {
            out.printf("%s: %s%nsource: examples/src/main/java/io/lowbit/examples/%s.java (its options are read at the top of main)%n",
                    entry.name(), entry.description(), entry.name());
            out.flush();
            return 0;
        }
        out.flush();
        entry.main().run(args.toArray(String[]::new));
        System.out.flush();
        return 0;
    }
}
