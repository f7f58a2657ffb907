package io.lowbit.tensor;

/**
 * A seeded, counter-based random stream: the n-th number depends only on (seed, n), so a tensor filled
 * from it is the same on every run and for every thread count. Each draw advances the counter by the
 * number of values produced. Named streams ({@link #fork(String)}) keep init, data order, dropout and
 * sampling independent, so two runs that differ in one place still share the rest.
 */
public final class Rng {
    private final long seed;
    private long counter;

    public Rng(long seed) {
        this.seed = seed;
    }

    /** A new independent stream derived from this one's seed and a name. */
    public Rng fork(String name) {
        // a 64-bit hash of every char (String.hashCode collides: "Aa" and "BB" would share a stream)
        long h = 0x632BE59BD9B4E019L;
        for (int i = 0; i < name.length(); i++) h = mix(h ^ name.charAt(i)) + 0x9E3779B97F4A7C15L;
        h = mix(h ^ name.length());
        return new Rng(mix(seed ^ h));
    }

    /** The seed this stream was built from. */
    public long seed() {
        return seed;
    }

    /** How many values have been drawn (the stream position; save it to resume). */
    public long position() {
        return counter;
    }

    /** Moves the stream to a saved position. */
    public void seek(long position) {
        counter = position;
    }

    /** SplitMix64 finalizer: a bijective 64-bit mix. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The raw 64 random bits at stream index {@code i} (does not advance). */
    public long bitsAt(long i) {
        return mix(seed + (i + 1) * 0x9E3779B97F4A7C15L);
    }

    /** Uniform double in [0, 1) at stream index {@code i}. */
    public double uniformAt(long i) {
        return (bitsAt(i) >>> 11) * 0x1.0p-53;
    }

    /** Standard normal at stream index {@code i} (Box–Muller on two sub-streams). */
    public double normalAt(long i) {
        double u1 = ((mix(bitsAt(i) ^ 0x5851F42D4C957F2DL) >>> 11) + 1) * 0x1.0p-53; // (0,1]
        double u2 = uniformAt(i);
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Next uniform double in [0, 1). */
    public double nextDouble() {
        return uniformAt(counter++);
    }

    /** Next standard normal. */
    public double nextGaussian() {
        return normalAt(counter++);
    }

    /** Next integer in [0, bound). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive: " + bound);
        return (int) ((bitsAt(counter++) >>> 33) % bound);
    }

    /** Reserves {@code n} consecutive indices and returns the first (for parallel fills). */
    public long advance(long n) {
        long start = counter;
        counter += n;
        return start;
    }
}
