/**
 * LoQT (Loeschcke et al. 2024, "Low-Rank Adapters for Quantized Training"; specs/loqt.md): the
 * {@link io.lowbit.quant.loqt.LoQTLinear} layer (NF4 weight plus a gradient-derived fixed projection and a
 * trainable low-rank factor), the error compensation of its update steps
 * ({@link io.lowbit.quant.loqt.Compensation}) and the schedule of those steps
 * ({@link io.lowbit.quant.loqt.UpdateSchedule}).
 */
package io.lowbit.quant.loqt;
