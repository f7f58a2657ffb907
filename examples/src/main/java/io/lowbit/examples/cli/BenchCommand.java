package io.lowbit.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lowbit bench ...}: speed measurements printed one line per case, for comparison with peers. */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = {BenchDecodeCommand.class, BenchSgemmCommand.class, BenchTrainCommand.class},
        description = "Speed measurements (one line per case) to set beside a peer library in the same minute.")
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
