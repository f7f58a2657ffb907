/**
 * GaLore (Zhao et al. 2024): full-rank weights trained by an AdamW whose moments live in a low-rank space
 * spanned by the gradient's top singular vectors ({@link io.lowbit.quant.galore.GaLoreAdamW}).
 */
package io.lowbit.quant.galore;
