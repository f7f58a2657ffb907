package io.lowbit.models.train;

import io.lowbit.tensor.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training metrics as rows of named values (step, loss, lr, val_ppl, ...), kept in memory and written as a
 * CSV file (atomically, so a crash never leaves half a file; values in shortest round-trip form, so a resumed run
 * reads back exactly what it wrote). Columns are the union of all keys, in order
 * of first appearance; a missing value is an empty cell.
 */
public final class MetricsLog {
    private final List<Map<String, Double>> rows = new ArrayList<>();
    private final List<String> columns = new ArrayList<>();

    /** Appends a row. */
    public void add(Map<String, Double> row) {
        for (String k : row.keySet()) if (!columns.contains(k)) columns.add(k);
        rows.add(new LinkedHashMap<>(row));
    }

    /** Convenience: a row from alternating names and values. */
    public void add(Object... nameValue) {
        if (nameValue.length % 2 != 0) throw new IllegalArgumentException("add(name, value, ...) needs pairs");
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < nameValue.length; i += 2) m.put((String) nameValue[i], ((Number) nameValue[i + 1]).doubleValue());
        add(m);
    }

    public List<Map<String, Double>> rows() {
        return rows;
    }

    /** (x, y) pairs for rows that have both columns. */
    public double[][] series(String x, String y) {
        List<double[]> pts = new ArrayList<>();
        for (Map<String, Double> r : rows) if (r.get(x) != null && r.get(y) != null) pts.add(new double[] {r.get(x), r.get(y)});
        return pts.toArray(new double[0][]);
    }

    /** The CSV text. */
    public String toCsv() {
        StringBuilder sb = new StringBuilder(String.join(",", columns)).append('\n');
        for (Map<String, Double> r : rows) {
            for (int i = 0; i < columns.size(); i++) {
                if (i > 0) sb.append(',');
                Double v = r.get(columns.get(i));
                if (v != null) sb.append(v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString(v.longValue()) : Double.toString(v));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** Writes the CSV atomically. */
    public void writeCsv(Path file) throws IOException {
        AtomicFiles.writeString(file, toCsv());
    }

    /** Reads a CSV written by {@link #writeCsv} (for resuming a run). */
    public static MetricsLog readCsv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        MetricsLog log = new MetricsLog();
        if (lines.isEmpty()) return log;
        String[] cols = lines.get(0).split(",", -1);
        for (int li = 1; li < lines.size(); li++) {
            if (lines.get(li).isEmpty()) continue;
            String[] cells = lines.get(li).split(",", -1);
            if (cells.length != cols.length)
                throw new IOException(file + ": line " + (li + 1) + " has " + cells.length + " cells, header has " + cols.length);
            Map<String, Double> row = new LinkedHashMap<>();
            for (int c = 0; c < cols.length; c++) {
                if (cells[c].isEmpty()) continue;
                try {
                    row.put(cols[c], Double.parseDouble(cells[c]));
                } catch (NumberFormatException e) {
                    throw new IOException(file + ": line " + (li + 1) + " column " + cols[c] + ": not a number: " + cells[c]);
                }
            }
            log.add(row);
        }
        return log;
    }
}
