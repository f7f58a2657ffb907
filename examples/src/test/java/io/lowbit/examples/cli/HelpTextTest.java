package io.lowbit.examples.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** Every command's --help renders cleanly and states the default of every option that has one. */
class HelpTextTest {
    private static void collect(CommandLine cl, List<CommandLine> out) {
        out.add(cl);
        for (CommandLine sub : cl.getSubcommands().values()) collect(sub, out);
    }

    @Test
    void everyHelpRendersWithoutWarningsAndNamesItsDefaults() {
        List<CommandLine> all = new ArrayList<>();
        collect(Lowbit.commandLine(), all);
        assertTrue(all.size() > 15, "commands found: " + all.size());
        List<String> problems = new ArrayList<>();
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            for (CommandLine cl : all) {
                String name = cl.getCommandSpec().qualifiedName();
                err.reset();
                cl.getUsageMessage();
                String warned = err.toString(StandardCharsets.UTF_8);
                if (!warned.isEmpty()) problems.add(name + ": " + warned.strip());
                for (OptionSpec o : cl.getCommandSpec().options()) {
                    if (o.usageHelp() || o.versionHelp() || o.defaultValue() == null || o.arity().max() == 0) continue;
                    String text = String.join(" ", o.description());
                    if (!text.contains("default")) problems.add(name + " " + o.longestName() + ": default " + o.defaultValue() + " not in \"" + text + "\"");
                }
            }
        } finally {
            System.setErr(old);
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }
}
