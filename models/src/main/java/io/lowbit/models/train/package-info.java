/**
 * The training harness shared by every method that trains: the loop ({@link io.lowbit.models.train.Trainer}
 * with its {@link io.lowbit.models.train.TrainConfig}), the seam each method implements
 * ({@link io.lowbit.models.train.TrainingMethod}, registry {@link io.lowbit.models.train.TrainingMethods},
 * baseline {@link io.lowbit.models.train.FullTraining}), resumable checkpoints
 * ({@link io.lowbit.models.train.TrainCheckpoint}), measured memory by component
 * ({@link io.lowbit.models.train.MemoryReport}), data ({@link io.lowbit.models.train.TokenDataset},
 * {@link io.lowbit.models.train.TokenizedCorpus}), progress ({@link io.lowbit.models.train.Progress}), metrics CSV
 * ({@link io.lowbit.models.train.MetricsLog}) and PNG plots ({@link io.lowbit.models.train.LinePlot}).
 */
package io.lowbit.models.train;
