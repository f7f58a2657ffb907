/**
 * The training harness shared by every method that trains: data ({@link io.lowbit.models.train.TokenDataset}),
 * progress ({@link io.lowbit.models.train.Progress}), metrics CSV ({@link io.lowbit.models.train.MetricsLog})
 * and PNG plots ({@link io.lowbit.models.train.LinePlot}).
 */
package io.lowbit.models.train;
