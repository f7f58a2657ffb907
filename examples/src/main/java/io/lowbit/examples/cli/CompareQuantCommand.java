package io.lowbit.examples.cli;

import io.lowbit.models.nn.LlamaForCausalLM;
import io.lowbit.models.qat.QatRun;
import io.lowbit.models.train.LinePlot;
import io.lowbit.models.train.MemoryReport;
import io.lowbit.quant.lrqat.Downcast;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code lowbit compare-quant}: RTN, GPTQ, LR-QAT (one row per φ), full QAT (LSQ), Block-AP alone and
 * EfficientQAT (Block-AP + E2E-QP) on one float checkpoint, at each of --bits, on the same data and budget:
 * validation perplexity (the pretraining's held-out split), measured peak memory by component, wall time.
 * Writes {@code <out>/compare-quant.png} (perplexity against bits per method) and a JSON table.
 */
@Command(name = "compare-quant", mixinStandardHelpOptions = true,
        description = {"Compare RTN, GPTQ, LR-QAT, full QAT and EfficientQAT (Block-AP alone and + E2E-QP) on a float checkpoint at each of --bits:",
                "validation perplexity, training peak memory by component, time. Same data, order and budget for every method."})
public final class CompareQuantCommand implements Callable<Integer> {
    @Option(names = "--bits", defaultValue = "4,3,2", split = ",", description = "bit widths (default ${DEFAULT-VALUE})")
    List<Integer> bits;

    @Option(names = "--methods", defaultValue = "rtn,gptq,lr-qat,full-qat,efficientqat", split = ",",
            description = "methods to run (default ${DEFAULT-VALUE})")
    List<String> methods;

    @Option(names = "--phis", defaultValue = "q4.4,int", split = ",",
            description = "LR-QAT rows, one per storage φ of W0/s0 (default ${DEFAULT-VALUE}); --phi is ignored here")
    List<String> phis;

    @Option(names = "--out", defaultValue = "runs/compare-quant", description = "output directory: plot, JSON, per-method metrics (default ${DEFAULT-VALUE})")
    Path out;

    @Mixin
    QatOptions opts;

    /** One table row. */
    record Row(int bits, String method, double ppl, MemoryReport mem, double seconds, long linearBytes) {}

    @Override
    public Integer call() throws Exception {
        for (String m : methods)
            if (!QatRun.METHODS.contains(m)) throw new IllegalArgumentException("unknown method '" + m + "' in --methods; choose from " + QatRun.METHODS);
        List<Downcast> phiList = new ArrayList<>();
        for (String p : phis) phiList.add(QatOptions.phi(p));
        int[] tokens = opts.tokens();
        Files.createDirectories(out);
        double fpPpl;
        try (LlamaForCausalLM fp = LlamaForCausalLM.load(opts.checkpoint)) {
            fpPpl = Math.exp(QatRun.validate(fp, tokens, opts.settings(bits.getFirst())));
        }
        System.out.printf(Locale.ROOT, "float checkpoint %s: validation perplexity %.3f%n", opts.checkpoint, fpPpl);
        List<Row> rows = new ArrayList<>();
        for (int b : bits) {
            QatRun.Settings base = opts.settings(b);
            for (String m : methods) {
                List<QatRun.Settings> variants = new ArrayList<>();
                if (m.equals("lr-qat")) for (Downcast d : phiList) variants.add(base.withPhi(d));
                else variants.add(base);
                for (QatRun.Settings s : variants) {
                    String tag = m.equals("lr-qat") ? "lr-qat-" + phiName(s.phi()) : m;
                    System.out.printf(Locale.ROOT, "== W%d %s ==%n", b, tag);
                    List<QatRun.Outcome> outs = QatRun.run(m, opts.checkpoint, tokens, s, out.resolve("w" + b + "-" + tag), System.out);
                    try {
                        for (QatRun.Outcome o : outs) {
                            String name = m.equals("lr-qat") ? tag : o.method();
                            rows.add(new Row(b, name, o.perplexity(), o.memory(), o.seconds(), o.model().linearBytes()));
                        }
                    } finally {
                        for (QatRun.Outcome o : outs) o.close();
                    }
                }
            }
        }
        System.out.println();
        System.out.print(table(fpPpl, rows, opts.group));
        LinePlot plot = new LinePlot("validation perplexity vs bits (" + (opts.group > 0 ? "g" + opts.group : "per-channel") + ")", "bits", "perplexity").logY(true);
        Map<String, List<double[]>> curves = new LinkedHashMap<>();
        for (Row r : rows) curves.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(new double[] {r.bits(), r.ppl()});
        for (var e : curves.entrySet()) plot.add(e.getKey(), e.getValue().toArray(new double[0][]));
        List<double[]> fpLine = new ArrayList<>();
        for (int b : bits) fpLine.add(new double[] {b, fpPpl});
        plot.add("fp32", fpLine.toArray(new double[0][]));
        Path png = out.resolve("compare-quant.png");
        plot.writePng(png);
        List<Object> json = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("bits", r.bits());
            o.put("method", r.method());
            o.put("val_ppl", r.ppl());
            o.put("seconds", r.seconds());
            o.put("linear_bytes", r.linearBytes());
            Map<String, Object> mem = new LinkedHashMap<>();
            for (MemoryCategory c : MemoryReport.SHOWN) mem.put(c.name().toLowerCase(Locale.ROOT), r.mem().peak(c));
            o.put("peak_bytes", mem);
            json.add(o);
        }
        AtomicFiles.writeString(out.resolve("compare-quant.json"), Json.writePretty(Map.of("checkpoint", opts.checkpoint.toString(), "fp_ppl", fpPpl,
                "group", opts.group, "steps", opts.steps, "batch", opts.batch, "calib", opts.calib, "results", json)));
        System.out.println("plot: " + png + "; table: " + out.resolve("compare-quant.json"));
        return 0;
    }

    private static String phiName(Downcast d) {
        return switch (d) {
            case FIXED_POINT_INT8 -> "q4.4";
            case INT_PACKED -> "int";
            default -> d.name().toLowerCase(Locale.ROOT);
        };
    }

    /**
     * The rows as an aligned table: perplexity (and its ratio to fp), peak memory by component in MiB, their sum,
     * "state" (the sum without activations: weights, Φ0/integers, adapters, gradients, optimizer), the quantized
     * linears' size, time.
     */
    static String table(double fpPpl, List<Row> rows, int group) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-7s %-14s %9s %7s", "bits", "method", "val_ppl", "vs fp"));
        for (MemoryCategory c : MemoryReport.SHOWN) sb.append(String.format(Locale.ROOT, " %8s", abbrev(c)));
        sb.append(String.format(Locale.ROOT, " %8s %8s %8s %7s%n", "sum MiB", "state", "lin MiB", "time s"));
        sb.append(String.format(Locale.ROOT, "%-7s %-14s %9.3f %7s%n", "W32", "fp32", fpPpl, "1.000"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-7s %-14s %9.3f %7.3f", "W" + r.bits() + (group > 0 ? "g" + group : ""), r.method(), r.ppl(), r.ppl() / fpPpl));
            for (MemoryCategory c : MemoryReport.SHOWN) sb.append(String.format(Locale.ROOT, " %8.2f", r.mem().peak(c) / 1048576.0));
            long state = r.mem().total() - r.mem().peak(MemoryCategory.ACTIVATIONS);
            sb.append(String.format(Locale.ROOT, " %8.2f %8.2f %8.2f %7.1f%n", r.mem().total() / 1048576.0, state / 1048576.0, r.linearBytes() / 1048576.0,
                    r.seconds()));
        }
        return sb.toString();
    }

    private static String abbrev(MemoryCategory c) {
        String n = c.name().toLowerCase(Locale.ROOT);
        return n.length() > 8 ? n.substring(0, 8) : n;
    }
}
