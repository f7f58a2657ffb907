/**
 * Runnable, commented examples: one class per idea, each with a {@code public static void main} and a
 * one-line {@code DESCRIPTION}, meant to be read top to bottom like a tutorial page. {@link
 * io.lowbit.examples.Examples} lists them ({@code ./lowbit example --list}) and runs one by name
 * ({@code ./lowbit example NAME [--option value ...]}); docs/tutorial.md walks through them in order.
 */
package io.lowbit.examples;
