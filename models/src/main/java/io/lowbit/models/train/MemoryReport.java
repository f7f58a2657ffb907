package io.lowbit.models.train;

import io.lowbit.tensor.Allocator;
import io.lowbit.tensor.MemoryCategory;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Peak off-heap bytes of a training run by component, read from the {@link Allocator}'s per-category
 * counters (measured, not estimated): weights, quantized weights, adapters, gradients, optimizer state,
 * activations.
 *
 * @param peakBytes peak live bytes per category over the run
 */
public record MemoryReport(Map<MemoryCategory, Long> peakBytes) {
    /** The categories a training report shows, in order. */
    public static final List<MemoryCategory> SHOWN = List.of(MemoryCategory.WEIGHTS, MemoryCategory.QUANTIZED, MemoryCategory.ADAPTERS,
            MemoryCategory.GRADIENTS, MemoryCategory.OPTIMIZER, MemoryCategory.ACTIVATIONS);

    public MemoryReport {
        peakBytes = Map.copyOf(peakBytes);
    }

    /** The allocator's peaks now (since its last {@link Allocator#resetPeak()}). */
    public static MemoryReport measure() {
        Map<MemoryCategory, Long> m = new EnumMap<>(MemoryCategory.class);
        for (MemoryCategory c : MemoryCategory.values()) m.put(c, Allocator.peakBytes(c));
        return new MemoryReport(m);
    }

    /** Peak bytes of one category. */
    public long peak(MemoryCategory c) {
        return peakBytes.getOrDefault(c, 0L);
    }

    /** Sum of the shown categories' peaks (an upper bound of the run's peak total). */
    public long total() {
        long s = 0;
        for (MemoryCategory c : SHOWN) s += peak(c);
        return s;
    }

    /** Bytes as MiB with two decimals. */
    public static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / (1024.0 * 1024.0));
    }

    /** One line per component. */
    public String format() {
        StringBuilder sb = new StringBuilder("memory (peak by component):\n");
        for (MemoryCategory c : SHOWN)
            sb.append(String.format(Locale.ROOT, "  %-12s %12s%n", c.name().toLowerCase(Locale.ROOT), mib(peak(c))));
        sb.append(String.format(Locale.ROOT, "  %-12s %12s%n", "sum", mib(total())));
        return sb.toString();
    }
}
