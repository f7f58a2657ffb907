package io.lowbit.models.robust;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.models.train.MetricsLog;
import io.lowbit.models.train.TrainCheckpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interrupted runs (issue 10): a real child JVM ({@link TrainChild}) is killed with SIGKILL
 * ({@link Process#destroyForcibly()}) at named {@link io.lowbit.tensor.io.CrashPoint}s — between steps and at
 * every stage of a checkpoint write — and restarted on the same directory, again and again, until it finishes.
 * After every kill the directory must offer the last <em>complete</em> checkpoint (never a half-written one),
 * the restarted child must say it resumed exactly there, and at the end every loss, the validation loss and the
 * final checkpoint's model and optimizer files must equal those of an uninterrupted run bit for bit.
 */
class KillResumeTest {
    private static final Pattern STARTED = Pattern.compile("start step (\\d+)");

    @TempDir
    Path dir;

    /**
     * One kill: the crash point and, at that moment, the checkpoint {@link TrainCheckpoint#locate} must find
     * ({@code where}: "checkpoint" or ".checkpoint.old") and its step; {@code halfWritten}: a newer checkpoint
     * lies half written in {@code .checkpoint.tmp} (model file there, trainer.json not) and must be ignored.
     */
    record Kill(String point, String where, int step, boolean halfWritten) {
        Kill(String point, String where, int step) {
            this(point, where, step, false);
        }
    }

    /** Kills tried (their count goes into the robust/README). */
    static final List<Kill> FULL = List.of(
            new Kill("trainer.step@6", "checkpoint", 4),                 // between steps, 2 steps after the step-4 checkpoint
            new Kill("checkpoint.model-written@1", "checkpoint", 4, true),     // step-8 checkpoint half written (no trainer.json)
            new Kill("atomic-write:trainer.json@1", "checkpoint", 4, true),    // its trainer.json in a temp file, not moved into place
            new Kill("checkpoint.complete@1", "checkpoint", 4),          // complete in .checkpoint.tmp, nothing renamed yet
            new Kill("checkpoint.old-moved@1", ".checkpoint.old", 4),    // step-4 checkpoint renamed aside, step 8 not yet in place
            new Kill("checkpoint.before-rename@1", ".checkpoint.old", 4), // resumed from the aside one: it must survive the next write
            new Kill("checkpoint.new-moved@2", "checkpoint", 12));       // step 12 in place, step 8 aside not yet deleted

    static final List<Kill> LOQT = List.of(
            new Kill("trainer.step@7", "checkpoint", 4),
            new Kill("checkpoint.old-moved@1", ".checkpoint.old", 4));

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void killedAtEveryStageOfACheckpointWriteResumesBitForBit() throws Exception {
        long t0 = System.nanoTime();
        int kills = check("full", 16, FULL) + check("loqt", 12, LOQT);
        System.out.printf("kill -9 points tried: %d (full: %d, loqt: %d) in %.1f s%n", kills, FULL.size(), LOQT.size(), (System.nanoTime() - t0) / 1e9);
    }

    private int check(String method, int steps, List<Kill> kills) throws Exception {
        Path whole = dir.resolve(method + "-whole"), killed = dir.resolve(method + "-killed");
        assertEquals(0, run(whole, method, steps, null).start(), "a fresh run starts at step 0");
        int expectedStart = 0;
        for (Kill k : kills) {
            Child c = run(killed, method, steps, k.point());
            assertEquals(expectedStart, c.start(), method + ": before the kill at " + k.point() + " the child resumed from the last complete checkpoint");
            Path found = TrainCheckpoint.locate(killed);
            assertNotNull(found, method + ": no checkpoint after the kill at " + k.point());
            assertEquals(k.where(), found.getFileName().toString(), method + ": checkpoint found after the kill at " + k.point());
            String info = Files.readString(found.resolve("trainer.json"));
            assertTrue(info.contains("\"step\": " + k.step() + ","), method + " " + k.point() + ": expected step " + k.step() + " in " + info);
            for (String f : List.of("model.safetensors", "optimizer.safetensors", "metrics.csv"))
                assertTrue(Files.exists(found.resolve(f)), found + " is complete: " + f);
            Path tmp = killed.resolve(".checkpoint.tmp");
            if (k.halfWritten())
                assertTrue(Files.exists(tmp.resolve("model.safetensors")) && !Files.exists(tmp.resolve("trainer.json")), k.point() + ": half-written " + tmp);
            expectedStart = k.step();
        }
        assertEquals(expectedStart, run(killed, method, steps, null).start(), method + ": the last restart resumed from the last complete checkpoint");
        assertEquals(column(whole, "loss"), column(killed, "loss"), method + ": losses of the killed-and-resumed run vs the uninterrupted run");
        assertEquals(steps, column(killed, "loss").size());
        assertEquals(column(whole, "val_loss"), column(killed, "val_loss"), method + ": validation loss");
        for (String f : List.of("model.safetensors", "optimizer.safetensors"))
            assertArrayEquals(Files.readAllBytes(whole.resolve("checkpoint").resolve(f)), Files.readAllBytes(killed.resolve("checkpoint").resolve(f)),
                    method + ": final " + f + " byte for byte");
        return kills.size();
    }

    private static List<Double> column(Path out, String name) throws IOException {
        List<Double> v = new ArrayList<>();
        for (Map<String, Double> row : MetricsLog.readCsv(out.resolve("metrics.csv")).rows()) if (row.containsKey(name)) v.add(row.get(name));
        return v;
    }

    /** What a child printed: the step it started at. */
    record Child(int start) {}

    /**
     * Runs {@link TrainChild} in a new JVM on {@code out}. With a crash point, waits until the child reports it
     * stands there, then kills it with SIGKILL; without, waits for it to finish successfully.
     */
    private static Child run(Path out, String method, int steps, String crashPoint) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalStateException("cannot find this JVM's java command"));
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xmx512m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path")));
        if (crashPoint != null) cmd.add("-Dlowbit.crashPoint=" + crashPoint);
        cmd.addAll(List.of(TrainChild.class.getName(), out.toString(), method, Integer.toString(steps), "4"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException e) {
                lines.add("read error: " + e);
            } finally {
                lines.add("<eof>");
            }
        });
        StringBuilder log = new StringBuilder();
        int start = -1;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                String l = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (l == null) fail("child timed out (" + crashPoint + "):\n" + log);
                if (l.equals("<eof>")) break;
                log.append(l).append('\n');
                Matcher m = STARTED.matcher(l);
                if (m.matches()) start = Integer.parseInt(m.group(1));
                if (crashPoint != null && l.equals("lowbit crash point " + crashPoint + " reached")) {
                    p.destroyForcibly(); // SIGKILL
                    break;
                }
            }
            int code = p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
            if (crashPoint != null) assertEquals(137, code, "killed by SIGKILL at " + crashPoint + ":\n" + log); // 128 + 9
            else assertEquals(0, code, "child failed:\n" + log);
        } finally {
            p.destroyForcibly();
            reader.join(5000);
        }
        assertTrue(start >= 0, "child never started training:\n" + log);
        return new Child(start);
    }
}
