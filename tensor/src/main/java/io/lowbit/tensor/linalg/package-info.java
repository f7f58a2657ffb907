/** Dense linear algebra in double precision: SVD (one-sided Jacobi and randomized top-r). */
package io.lowbit.tensor.linalg;
