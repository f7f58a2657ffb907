/**
 * JMH benchmarks of the CPU kernels (SGEMM throughput on square and LLaMA training shapes). Run them as
 * described in bench/README.md; the OpenBLAS comparison scripts live next to it.
 */
package io.lowbit.bench;
