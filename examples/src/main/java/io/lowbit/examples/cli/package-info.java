/** The {@code lowbit} command line (picocli): one class per subcommand. */
package io.lowbit.examples.cli;
