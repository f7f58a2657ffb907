package io.lowbit.models.train;

import io.lowbit.tensor.io.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A small line chart written as PNG (headless AWT): several named series of (x, y) points, axes with
 * round-number ticks, optional log-scale y, and a legend. Used for loss curves and method comparisons.
 */
public final class LinePlot {
    private record Series(String name, double[][] points, Color color) {}

    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf)
    };

    private final String title, xLabel, yLabel;
    private final List<Series> series = new ArrayList<>();
    private boolean logY;

    public LinePlot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** Adds a series of (x, y) points; non-finite points are skipped. */
    public LinePlot add(String name, double[][] points) {
        List<double[]> ok = new ArrayList<>();
        for (double[] p : points) if (Double.isFinite(p[0]) && Double.isFinite(p[1]) && (!logY || p[1] > 0)) ok.add(p);
        series.add(new Series(name, ok.toArray(new double[0][]), PALETTE[series.size() % PALETTE.length]));
        return this;
    }

    /** Plots y on a log10 scale (set before adding series). */
    public LinePlot logY(boolean on) {
        this.logY = on;
        return this;
    }

    /** Renders to an image of the given size. */
    public BufferedImage render(int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        int left = 80, right = 20, top = 40, bottom = 60;
        int pw = width - left - right, ph = height - top - bottom;
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series)
            for (double[] p : s.points) {
                double y = ty(p[1]);
                x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
                y0 = Math.min(y0, y); y1 = Math.max(y1, y);
            }
        if (!(x0 <= x1)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
        if (x1 == x0) { x0 -= 0.5; x1 += 0.5; }
        if (y1 == y0) { y0 -= 0.5; y1 += 0.5; }
        double pad = (y1 - y0) * 0.05;
        y0 -= pad; y1 += pad;
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.setColor(Color.BLACK);
        g.drawString(title, left, 25);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        // grid and ticks
        for (double t : ticks(x0, x1)) {
            int px = left + (int) Math.round((t - x0) / (x1 - x0) * pw);
            g.setColor(new Color(0xeeeeee));
            g.drawLine(px, top, px, top + ph);
            g.setColor(Color.DARK_GRAY);
            String lab = fmt(t);
            g.drawString(lab, px - g.getFontMetrics().stringWidth(lab) / 2, top + ph + 18);
        }
        for (double t : ticks(y0, y1)) {
            int py = top + ph - (int) Math.round((t - y0) / (y1 - y0) * ph);
            g.setColor(new Color(0xeeeeee));
            g.drawLine(left, py, left + pw, py);
            g.setColor(Color.DARK_GRAY);
            String lab = fmt(logY ? Math.pow(10, t) : t);
            g.drawString(lab, left - 8 - g.getFontMetrics().stringWidth(lab), py + 4);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        g.drawString(xLabel, left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, height - 20);
        Graphics2D gy = (Graphics2D) g.create();
        gy.rotate(-Math.PI / 2);
        gy.drawString(yLabel + (logY ? " (log)" : ""), -(top + ph / 2) - g.getFontMetrics().stringWidth(yLabel) / 2, 18);
        gy.dispose();
        // series
        g.setStroke(new BasicStroke(2f));
        int ly = top + 16;
        for (Series s : series) {
            g.setColor(s.color);
            int px = -1, py = -1;
            for (double[] p : s.points) {
                int qx = left + (int) Math.round((p[0] - x0) / (x1 - x0) * pw);
                int qy = top + ph - (int) Math.round((ty(p[1]) - y0) / (y1 - y0) * ph);
                if (px >= 0) g.drawLine(px, py, qx, qy);
                else if (s.points.length == 1) g.fillOval(qx - 3, qy - 3, 6, 6);
                px = qx;
                py = qy;
            }
            g.drawLine(left + pw - 150, ly - 4, left + pw - 125, ly - 4);
            g.setColor(Color.BLACK);
            g.drawString(s.name, left + pw - 120, ly);
            ly += 16;
        }
        g.dispose();
        return img;
    }

    private double ty(double y) {
        return logY ? Math.log10(y) : y;
    }

    /** Round-number tick positions covering [lo, hi]. */
    static List<Double> ticks(double lo, double hi) {
        double span = hi - lo;
        double step = Math.pow(10, Math.floor(Math.log10(span / 5)));
        if (span / step > 7) step *= 2;
        if (span / step > 7) step *= 2.5;
        List<Double> t = new ArrayList<>();
        for (double v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * span; v += step) t.add(Math.abs(v) < 1e-12 * span ? 0 : v);
        return t;
    }

    private static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e7) return Long.toString((long) v);
        return String.format(Locale.ROOT, "%.3g", v);
    }

    /** Writes the chart as a PNG file (atomically). */
    public void writePng(Path file, int width, int height) throws IOException {
        BufferedImage img = render(width, height);
        AtomicFiles.write(file, out -> ImageIO.write(img, "png", out));
    }

    /** Writes the chart as a 900×540 PNG file. */
    public void writePng(Path file) throws IOException {
        writePng(file, 900, 540);
    }
}
