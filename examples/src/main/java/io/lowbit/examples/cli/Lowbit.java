package io.lowbit.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code lowbit} command line. Each subcommand is one class in this package, registered in
 * {@link #commandLine()}; {@code ./lowbit --help} lists them.
 */
@Command(name = "lowbit", mixinStandardHelpOptions = true, version = "lowbit 0.1.0",
        description = "Quantization-aware training of LLaMA-family models on the JVM.",
        subcommandsRepeatable = false)
public final class Lowbit implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The command tree with every subcommand registered. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Lowbit());
        cl.addSubcommand("bench", new BenchCommand());
        cl.addSubcommand("tokenize", new TokenizeCommand());
        cl.addSubcommand("doctor", new DoctorCommand());
        cl.addSubcommand("generate", new GenerateCommand());
        cl.addSubcommand("convert", new ConvertCommand());
        cl.addSubcommand("memory", new MemoryCommand());
        cl.addSubcommand("example", ExampleCommand.create());
        cl.addSubcommand("pretrain", new PretrainCommand());
        cl.addSubcommand("compare", new CompareCommand());
        cl.addSubcommand("quantize", new QuantizeCommand());
        cl.addSubcommand("eval", new EvalCommand());
        cl.addSubcommand("quant-table", new QuantTableCommand());
        cl.addSubcommand("finetune", new FinetuneCommand());
        cl.addSubcommand("qat", new QatCommand());
        cl.addSubcommand("compare-quant", new CompareQuantCommand());
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("lowbit: " + ex.getMessage() + " (see '" + c.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException || ex instanceof IllegalStateException) {
                c.getErr().println("lowbit " + c.getCommandName() + ": " + ex.getMessage());
                if (Boolean.getBoolean("lowbit.trace")) ex.printStackTrace(c.getErr());
                return 1;
            }
            throw ex;
        });
        return cl;
    }

    public static void main(String[] args) {
        int rc = commandLine().execute(args);
        System.out.flush();
        System.exit(rc);
    }
}
