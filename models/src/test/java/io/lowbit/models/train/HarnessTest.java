package io.lowbit.models.train;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HarnessTest {
    @TempDir
    Path dir;

    private static int[] corpus(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i;
        return t;
    }

    @Test
    void batchesAreShiftedWindowsAndSplitIsHeldOut() {
        TokenDataset ds = new TokenDataset(corpus(1000), 0.1, 16, 7);
        assertEquals(900, ds.trainTokens());
        assertEquals(100, ds.validTokens());
        TokenDataset.Batch b = ds.nextTrainBatch(4);
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 16; j++) {
                assertEquals(b.inputs()[r * 16 + j] + 1, b.targets()[r * 16 + j], "targets are inputs shifted by one");
                assertTrue(b.targets()[r * 16 + j] < 900, "training windows stay in the training split");
            }
        assertEquals(6, ds.validWindows()); // (100 - 1) / 16
        TokenDataset.Batch v = ds.validBatch(0, 6);
        assertEquals(900, v.inputs()[0]);
        assertEquals(901, v.targets()[0]);
        assertEquals(900 + 16, v.inputs()[16], "validation windows do not overlap");
        assertThrows(IndexOutOfBoundsException.class, () -> ds.validBatch(5, 2));
    }

    @Test
    void sameSeedSameOrderAndResumeContinuesTheStream() {
        TokenDataset a = new TokenDataset(corpus(5000), 0.05, 32, 42), b = new TokenDataset(corpus(5000), 0.05, 32, 42);
        a.nextTrainBatch(8);
        long pos = a.position();
        int[] next = a.nextTrainBatch(8).inputs();
        b.seek(pos);
        assertArrayEquals(next, b.nextTrainBatch(8).inputs(), "resuming from a saved position gives the same batch");
        TokenDataset c = new TokenDataset(corpus(5000), 0.05, 32, 43);
        c.seek(pos);
        assertFalse(java.util.Arrays.equals(next, c.nextTrainBatch(8).inputs()), "another seed gives other data");
    }

    @Test
    void tooShortCorpusIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> new TokenDataset(corpus(10), 0.0, 16, 1));
        assertTrue(e.getMessage().contains("fewer than seqLen+1"), e.getMessage());
    }

    @Test
    void metricsCsvRoundTripsWithMissingCells() throws Exception {
        MetricsLog log = new MetricsLog();
        log.add("step", 0, "loss", 5.25, "lr", 1e-3);
        log.add("step", 10, "loss", 4.5, "lr", 9e-4, "val_ppl", 80.5);
        Path f = dir.resolve("metrics.csv");
        log.writeCsv(f);
        List<String> lines = Files.readAllLines(f);
        assertEquals("step,loss,lr,val_ppl", lines.get(0));
        assertEquals("0,5.25,0.001,", lines.get(1));
        MetricsLog back = MetricsLog.readCsv(f);
        assertEquals(2, back.rows().size());
        assertEquals(80.5, back.rows().get(1).get("val_ppl"));
        assertNull(back.rows().get(0).get("val_ppl"));
        assertArrayEquals(new double[] {10, 80.5}, back.series("step", "val_ppl")[0]);
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList(), "no temp file left behind");
        }
    }

    @Test
    void plotDrawsEachSeriesInItsColour() throws Exception {
        LinePlot p = new LinePlot("loss", "step", "loss");
        p.add("full", new double[][] {{0, 5}, {100, 3}, {200, 2}});
        p.add("loqt", new double[][] {{0, 5}, {100, 3.2}, {200, Double.NaN}});
        Path f = dir.resolve("loss.png");
        p.writePng(f, 400, 300);
        BufferedImage img = ImageIO.read(f.toFile());
        assertEquals(400, img.getWidth());
        int blue = 0, red = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xffffff;
                if (rgb == 0x1f77b4) blue++;
                if (rgb == 0xd62728) red++;
            }
        assertTrue(blue > 50 && red > 30, "both series drawn: blue=" + blue + " red=" + red);
        assertEquals(List.of(0.0, 2.0, 4.0, 6.0, 8.0, 10.0), LinePlot.ticks(0, 10));
    }

    @Test
    void progressLineHasRateAndEta() {
        var sink = new java.io.ByteArrayOutputStream();
        Progress p = new Progress(new java.io.PrintStream(sink), "train", 10, 5);
        for (int s = 0; s < 10; s++) p.step(s, 2.0 - s * 0.1, 1e-3, 1000);
        String out = sink.toString();
        assertEquals(3, out.lines().count(), "steps 0, 5 and the last are printed off a terminal:\n" + out);
        assertTrue(out.contains("step 10/10") && out.contains("tok/s") && out.contains("eta 0:00"), out);
        assertEquals("1:01:01", Progress.clock(3661));
    }
}
