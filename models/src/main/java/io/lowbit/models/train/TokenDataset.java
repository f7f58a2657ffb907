package io.lowbit.models.train;

import io.lowbit.tensor.Rng;
import java.util.Arrays;

/**
 * A tokenized corpus split into a training and a validation stream, served as batches of fixed-length
 * sequences: each sequence is {@code seqLen + 1} consecutive tokens, the first {@code seqLen} are inputs
 * and the last {@code seqLen} (shifted by one) are targets.
 *
 * <p>Training batches start at positions drawn from a named, seeded {@link Rng} stream, so two methods
 * trained with the same seed see identical data in identical order, and a resumed run continues the
 * stream from its saved {@link #position()}. Validation uses fixed, non-overlapping windows.
 */
public final class TokenDataset {
    /** One batch: inputs and targets, each {@code batch × seqLen} tokens, row-major. */
    public record Batch(int[] inputs, int[] targets, int batch, int seqLen) {}

    private final int[] train;
    private final int[] valid;
    private final int seqLen;
    private final Rng order;

    /**
     * @param tokens the whole corpus as token ids
     * @param validFraction fraction of tokens (taken from the end) held out for validation, in [0, 0.5]
     * @param seqLen sequence length
     * @param seed seed of the data-order stream
     */
    public TokenDataset(int[] tokens, double validFraction, int seqLen, long seed) {
        if (validFraction < 0 || validFraction > 0.5)
            throw new IllegalArgumentException("validFraction must be in [0, 0.5], got " + validFraction);
        if (seqLen < 1) throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
        int nValid = (int) Math.round(tokens.length * validFraction);
        this.train = Arrays.copyOfRange(tokens, 0, tokens.length - nValid);
        this.valid = Arrays.copyOfRange(tokens, tokens.length - nValid, tokens.length);
        if (train.length < seqLen + 1)
            throw new IllegalArgumentException("corpus has " + train.length + " training tokens, fewer than seqLen+1 = " + (seqLen + 1));
        if (nValid > 0 && valid.length < seqLen + 1)
            throw new IllegalArgumentException("validation split has " + valid.length + " tokens, fewer than seqLen+1 = " + (seqLen + 1));
        this.seqLen = seqLen;
        this.order = new Rng(seed).fork("data-order");
    }

    public int seqLen() {
        return seqLen;
    }

    public int trainTokens() {
        return train.length;
    }

    public int validTokens() {
        return valid.length;
    }

    /** Position of the data-order stream (save it in a checkpoint). */
    public long position() {
        return order.position();
    }

    /** Restores the data-order stream to a saved position. */
    public void seek(long position) {
        order.seek(position);
    }

    /** The next training batch of {@code batch} random windows. */
    public Batch nextTrainBatch(int batch) {
        int[] x = new int[batch * seqLen], y = new int[batch * seqLen];
        int starts = train.length - seqLen; // valid start positions: [0, starts)
        for (int b = 0; b < batch; b++) {
            int s = order.nextInt(starts);
            System.arraycopy(train, s, x, b * seqLen, seqLen);
            System.arraycopy(train, s + 1, y, b * seqLen, seqLen);
        }
        return new Batch(x, y, batch, seqLen);
    }

    /**
     * {@code count} windows of the training split at evenly spaced fixed starts: calibration data (GPTQ) that
     * draws nothing from the data-order stream, so a calibrated and an uncalibrated method still train on the
     * same batches.
     */
    public Batch calibrationBatch(int count) {
        if (count < 1) throw new IllegalArgumentException("calibration windows must be >= 1, got " + count);
        int[] x = new int[count * seqLen], y = new int[count * seqLen];
        long starts = train.length - seqLen; // valid start positions: [0, starts)
        for (int b = 0; b < count; b++) {
            int s = (int) (starts * b / count);
            System.arraycopy(train, s, x, b * seqLen, seqLen);
            System.arraycopy(train, s + 1, y, b * seqLen, seqLen);
        }
        return new Batch(x, y, count, seqLen);
    }

    /** Number of non-overlapping validation windows. */
    public int validWindows() {
        return valid.length < seqLen + 1 ? 0 : (valid.length - 1) / seqLen;
    }

    /** Validation windows [from, from+count) as one batch (count ≤ validWindows() − from). */
    public Batch validBatch(int from, int count) {
        if (from < 0 || count < 1 || from + count > validWindows())
            throw new IndexOutOfBoundsException("validation windows [" + from + ", " + (from + count) + ") of " + validWindows());
        int[] x = new int[count * seqLen], y = new int[count * seqLen];
        for (int b = 0; b < count; b++) {
            int s = (from + b) * seqLen;
            System.arraycopy(valid, s, x, b * seqLen, seqLen);
            System.arraycopy(valid, s + 1, y, b * seqLen, seqLen);
        }
        return new Batch(x, y, count, seqLen);
    }
}
