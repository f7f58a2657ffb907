/**
 * Uniform affine quantization (round-to-nearest, "RTN"): ŵ = s·(q − z) with integer codes q in
 * [0, 2^b − 1], symmetric or asymmetric, per tensor, per output channel or per group of input columns,
 * with min-max or L^p grid-search range setting. {@link io.lowbit.quant.uniform.AffineQuantizedTensor}
 * is also the storage format of GPTQ (with g_idx for act-order) and of QAT methods that learn s and z.
 */
package io.lowbit.quant.uniform;
