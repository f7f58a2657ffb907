package io.lowbit.models.train;

import io.lowbit.autograd.nn.Module;
import io.lowbit.autograd.optim.Optimizer;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.io.AtomicFiles;
import io.lowbit.tensor.io.CrashPoint;
import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.io.Safetensors;
import io.lowbit.tensor.io.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A resumable training checkpoint: the directory {@code <out>/checkpoint} holding
 * {@code model.safetensors} (the whole state dict, adapters included), {@code optimizer.safetensors}
 * (every optimizer's moments, keys {@code "<optimizer>.<param>.<name>"}), {@code extra.safetensors} (the
 * method's {@link TrainingMethod#extraState()}), {@code trainer.json} (step, schedule step, data-order
 * stream position, optimizer step counts, method name) and {@code metrics.csv}.
 *
 * <p>Written atomically as a directory: everything goes to {@code .checkpoint.tmp}, then the old
 * checkpoint is renamed aside, the new one renamed into place and the old one deleted. A crash at any point
 * leaves either the old or the new checkpoint complete ({@link #locate} falls back to the renamed-aside one;
 * a half-written {@code .checkpoint.tmp} is never read, and the renamed-aside one is deleted only once
 * {@code checkpoint} is complete). Each of these moments is a named {@link CrashPoint}, where
 * {@code KillResumeTest} kills a real process with SIGKILL and resumes it.
 */
public final class TrainCheckpoint {
    private TrainCheckpoint() {}

    /** What {@link #read} restored besides tensors. */
    public record Restored(int step, long scheduleStep, long dataPosition, MetricsLog metrics) {}

    /** The checkpoint directory under {@code out} to resume from, or null when there is none. */
    public static Path locate(Path out) {
        Path cur = out.resolve("checkpoint"), old = out.resolve(".checkpoint.old");
        if (Files.exists(cur.resolve("trainer.json"))) return cur;
        if (Files.exists(old.resolve("trainer.json"))) return old;
        return null;
    }

    /** Writes a complete checkpoint of step {@code step} (the next step to run) under {@code out}. */
    public static void write(Path out, String method, Module model, List<Optimizer> optimizers, Map<String, Tensor> extra, int step,
                             long scheduleStep, long dataPosition, MetricsLog metrics) throws IOException {
        Files.createDirectories(out);
        Path tmp = out.resolve(".checkpoint.tmp"), cur = out.resolve("checkpoint"), old = out.resolve(".checkpoint.old");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        Safetensors.write(tmp.resolve("model.safetensors"), model.stateDict(), Map.of("format", "pt"));
        CrashPoint.reach("checkpoint.model-written");
        Map<String, Tensor> opt = new LinkedHashMap<>();
        Map<String, Object> counts = new LinkedHashMap<>();
        for (int o = 0; o < optimizers.size(); o++) {
            for (var e : optimizers.get(o).stateDict().entrySet()) opt.put(o + "." + e.getKey(), e.getValue());
            Map<String, Object> c = new LinkedHashMap<>();
            for (var e : optimizers.get(o).stepCounts().entrySet()) c.put(Integer.toString(e.getKey()), e.getValue());
            counts.put(Integer.toString(o), c);
        }
        Safetensors.write(tmp.resolve("optimizer.safetensors"), opt, Map.of());
        if (!extra.isEmpty()) Safetensors.write(tmp.resolve("extra.safetensors"), extra, Map.of());
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("method", method);
        info.put("step", step);
        info.put("schedule_step", scheduleStep);
        info.put("data_position", dataPosition);
        info.put("optimizers", optimizers.size());
        info.put("optimizer_steps", counts);
        metrics.writeCsv(tmp.resolve("metrics.csv"));
        AtomicFiles.writeString(tmp.resolve("trainer.json"), Json.writePretty(info)); // written last: marks the directory complete
        CrashPoint.reach("checkpoint.complete");
        if (Files.exists(cur)) { // cur is complete, so an old one beside it is stale
            deleteTree(old);
            Files.move(cur, old, StandardCopyOption.ATOMIC_MOVE);
            CrashPoint.reach("checkpoint.old-moved");
        } // else a run resumed from old after a crash between the two moves: old is the only complete checkpoint, keep it
        CrashPoint.reach("checkpoint.before-rename");
        Files.move(tmp, cur, StandardCopyOption.ATOMIC_MOVE);
        CrashPoint.reach("checkpoint.new-moved");
        deleteTree(old);
    }

    /** Restores model, optimizers and method state from the checkpoint under {@code out}. */
    @SuppressWarnings("unchecked")
    public static Restored read(Path out, String method, Module model, List<Optimizer> optimizers, TrainingMethod m) throws IOException {
        Path dir = locate(out);
        if (dir == null) throw new IOException(out + ": no checkpoint to resume from (expected " + out.resolve("checkpoint") + ")");
        Path infoFile = dir.resolve("trainer.json");
        Map<String, Object> info = Json.parseObject(Files.readString(infoFile), infoFile.toString());
        String saved = Json.getString(info, "method", infoFile.toString());
        if (!saved.equals(method))
            throw new IllegalArgumentException(infoFile + ": checkpoint was trained with method '" + saved + "', not '" + method + "'");
        if (Json.getLong(info, "optimizers", infoFile.toString()) != optimizers.size())
            throw new IllegalArgumentException(infoFile + ": checkpoint has " + info.get("optimizers") + " optimizers, this run has " + optimizers.size());
        try (SafetensorsFile st = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            model.loadStateDict(all(st));
        }
        Map<String, Object> counts = (Map<String, Object>) info.get("optimizer_steps");
        try (SafetensorsFile st = SafetensorsFile.open(dir.resolve("optimizer.safetensors"))) {
            Map<String, Tensor> tensors = all(st);
            for (int o = 0; o < optimizers.size(); o++) {
                String prefix = o + ".";
                Map<String, Tensor> mine = new LinkedHashMap<>();
                for (var e : tensors.entrySet()) if (e.getKey().startsWith(prefix)) mine.put(e.getKey().substring(prefix.length()), e.getValue());
                Map<Integer, Long> steps = new LinkedHashMap<>();
                for (var e : ((Map<String, Object>) counts.get(Integer.toString(o))).entrySet())
                    steps.put(Integer.parseInt(e.getKey()), ((Number) e.getValue()).longValue());
                optimizers.get(o).loadStateDict(mine, steps);
            }
        }
        Path extra = dir.resolve("extra.safetensors");
        if (Files.exists(extra)) {
            try (SafetensorsFile st = SafetensorsFile.open(extra)) {
                m.loadExtraState(all(st));
            }
        }
        MetricsLog metrics = Files.exists(dir.resolve("metrics.csv")) ? MetricsLog.readCsv(dir.resolve("metrics.csv")) : new MetricsLog();
        return new Restored((int) Json.getLong(info, "step", infoFile.toString()), Json.getLong(info, "schedule_step", infoFile.toString()),
                Json.getLong(info, "data_position", infoFile.toString()), metrics);
    }

    private static Map<String, Tensor> all(SafetensorsFile st) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : st.names()) m.put(n, st.tensor(n)); // views of the mapped file: copied by the loaders
        return m;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
