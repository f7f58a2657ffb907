/**
 * Small dense linear algebra in double precision on row-major {@code double[]} matrices: Cholesky
 * factorization, triangular inverse and solves, and the upper Cholesky factor of an inverse that GPTQ
 * needs.
 */
package io.lowbit.quant.linalg;
