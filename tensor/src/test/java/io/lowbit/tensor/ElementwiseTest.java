package io.lowbit.tensor;

import static io.lowbit.tensor.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every unary and binary op, F32 (vector path) and F64 (scalar path), on odd sizes and four layouts. */
class ElementwiseTest {
    private static long startLive;

    @BeforeAll
    static void start() { startLive = Allocator.liveBytes(); }

    @AfterAll
    static void noLeak() { assertEquals(startLive, Allocator.liveBytes(), "live bytes after ElementwiseTest"); }

    /** Input domain per op, so that the reference is finite and well-conditioned. */
    private static double lo(UnaryOp op) {
        return switch (op) {
            case LOG, SQRT, RSQRT, POW_SCALAR -> 0.05;
            case EXP -> -20;
            default -> -6;
        };
    }

    private static double hi(UnaryOp op) {
        return switch (op) {
            case EXP -> 20;
            default -> 6;
        };
    }

    private static double arg(UnaryOp op) {
        return switch (op) {
            case POW_SCALAR -> 2.5;
            case ADD_SCALAR -> 0.75;
            case MUL_SCALAR -> -1.5;
            case CLAMP_MIN -> -0.5;
            case CLAMP_MAX -> 0.25;
            default -> 0;
        };
    }

    private static Tensor apply(UnaryOp op, Tensor x, double c) {
        return switch (op) {
            case NEG -> x.neg();
            case EXP -> x.exp();
            case LOG -> x.log();
            case SQRT -> x.sqrt();
            case RSQRT -> x.rsqrt();
            case ABS -> x.abs();
            case TANH -> x.tanh();
            case SIGMOID -> x.sigmoid();
            case SILU -> x.silu();
            case RELU -> x.relu();
            case SQUARE -> x.square();
            case RECIPROCAL -> x.reciprocal();
            case SIGN -> x.sign();
            case ROUND -> x.round();
            case ADD_SCALAR -> x.add(c);
            case MUL_SCALAR -> x.mul(c);
            case POW_SCALAR -> x.pow(c);
            case CLAMP_MIN -> x.clampMin(c);
            case CLAMP_MAX -> x.clampMax(c);
        };
    }

    private static Tensor apply(BinaryOp op, Tensor a, Tensor b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case MAX -> a.maximum(b);
            case MIN -> a.minimum(b);
            case GT -> a.gt(b);
        };
    }

    @Test
    void unaryOpsMatchScalarDefinition() {
        Random r = new Random(1);
        for (UnaryOp op : UnaryOp.values())
            for (DType dt : new DType[] {DType.F32, DType.F64})
                for (int n : SIZES)
                    for (Layout l : Layout.values()) {
                        try (var scope = MemoryScope.open()) {
                            int rows = 3;
                            Tensor x = make(dt, l, rows, n, r, lo(op), hi(op));
                            double c = arg(op);
                            Tensor y = apply(op, x, c);
                            assertArrayEquals(new int[] {rows, n}, y.shape());
                            assertTrue(y.isContiguous());
                            assertEquals(dt, y.dtype());
                            String what = op + " " + dt + " n=" + n + " " + l;
                            for (long i = 0; i < y.numel(); i++) {
                                double xv = x.getDouble(i);
                                double want = op.apply(xv, c);
                                if (dt == DType.F32) want = (float) want;
                                double rtol = dt == DType.F64 ? 1e-14 : 3e-6;
                                assertClose(want, y.getDouble(i), rtol, dt == DType.F64 ? 1e-300 : 1e-30, what + " x=" + xv);
                            }
                        }
                    }
    }

    @Test
    void binaryOpsMatchScalarDefinition() {
        Random r = new Random(2);
        for (BinaryOp op : BinaryOp.values())
            for (DType dt : new DType[] {DType.F32, DType.F64})
                for (int n : SIZES)
                    for (Layout la : Layout.values())
                        for (Layout lb : Layout.values()) {
                            try (var scope = MemoryScope.open()) {
                                Tensor a = make(dt, la, 3, n, r, -4, 4);
                                Tensor b = make(dt, lb, 3, n, r, 0.5, 3);
                                if (op != BinaryOp.DIV && r.nextBoolean()) b = b.neg(); // both signs, but no division by ~0
                                Tensor y = apply(op, a, b);
                                assertArrayEquals(new int[] {3, n}, y.shape());
                                String what = op + " " + dt + " n=" + n + " " + la + "/" + lb;
                                for (long i = 0; i < y.numel(); i++) {
                                    double want = op.apply(a.getDouble(i), b.getDouble(i));
                                    if (dt == DType.F32) want = (float) want;
                                    assertClose(want, y.getDouble(i), dt == DType.F64 ? 1e-15 : 1e-7, 0, what);
                                }
                            }
                        }
    }

    @Test
    void specialValuesAgreeBetweenVectorAndScalarPaths() {
        // NaN, infinities and signed zeros must give the scalar definition's answer on the vector path too
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1f, -1f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f};
        float[] data = new float[64];
        for (int i = 0; i < data.length; i++) data[i] = special[i % special.length];
        for (UnaryOp op : UnaryOp.values()) {
            try (var scope = MemoryScope.open()) {
                Tensor x = Tensor.of(data, data.length);
                double c = arg(op);
                Tensor y = apply(op, x, c);
                for (int i = 0; i < data.length; i++) {
                    float want = (float) op.apply(data[i], c);
                    float got = y.getFloat(i);
                    assertTrue(sameSpecial(want, got), op + "(" + data[i] + "): want " + want + " got " + got);
                }
            }
        }
        for (BinaryOp op : BinaryOp.values()) {
            try (var scope = MemoryScope.open()) {
                float[] other = new float[data.length];
                for (int i = 0; i < other.length; i++) other[i] = special[(i * 5 + 3) % special.length];
                Tensor a = Tensor.of(data, data.length), b = Tensor.of(other, other.length);
                Tensor y = apply(op, a, b);
                for (int i = 0; i < data.length; i++) {
                    float want = (float) op.apply(data[i], other[i]);
                    float got = y.getFloat(i);
                    assertTrue(sameSpecial(want, got), op + "(" + data[i] + ", " + other[i] + "): want " + want + " got " + got);
                }
            }
        }
    }

    /** NaN-ness, infinities and signed zeros match exactly; finite non-zero values within 2 ulp. */
    private static boolean sameSpecial(float want, float got) {
        if (Float.isNaN(want) || Float.isNaN(got) || Float.isInfinite(want) || want == 0)
            return Float.floatToIntBits(want) == Float.floatToIntBits(got);
        return Math.abs(want - got) <= 2 * Math.ulp(want);
    }

    @Test
    void powOfNegativeBaseWithIntegerExponent() {
        float[] data = new float[40];
        for (int i = 0; i < data.length; i++) data[i] = (i % 9) - 4.5f + (i % 2 == 0 ? 0.5f : 0);
        for (double c : new double[] {2, 3, -1, 0.5, 0}) {
            try (var scope = MemoryScope.open()) {
                Tensor y = Tensor.of(data, data.length).pow(c);
                for (int i = 0; i < data.length; i++) {
                    float want = (float) Math.pow(data[i], c);
                    assertTrue(sameSpecial(want, y.getFloat(i)), "pow(" + data[i] + ", " + c + "): want " + want + " got " + y.getFloat(i));
                }
            }
        }
    }

    @Test
    void longRowsSplitAcrossTasks() {
        // a contiguous tensor is one coalesced row; rows longer than a segment are cut into pieces
        Random r = new Random(4);
        for (int n : new int[] {16384, 16385, 3 * 16384 + 7}) {
            try (var scope = MemoryScope.open()) {
                Tensor x = rand(DType.F32, r, -3, 3, n), y = rand(DType.F32, r, -3, 3, n);
                Tensor e = x.exp(), p = x.mul(y), b = x.to(DType.BF16), d = y.copy();
                d.addInPlace(x, 2);
                Tensor f = Tensor.empty(DType.F32, n).fill(1.25);
                for (int i = 0; i < n; i++) {
                    float xi = x.getFloat(i), yi = y.getFloat(i);
                    assertClose((float) Math.exp(xi), e.getDouble(i), 3e-6, 0, "exp n=" + n + " at " + i);
                    assertEquals(xi * yi, p.getFloat(i), "mul n=" + n + " at " + i);
                    assertEquals(Half.fromBF16(Half.toBF16(xi)), b.getFloat(i), "bf16 n=" + n + " at " + i);
                    assertEquals(Math.fma(2f, xi, yi), d.getFloat(i), "axpy n=" + n + " at " + i);
                    assertEquals(1.25f, f.getFloat(i));
                }
            }
        }
    }

    @Test
    void signAndRoundAreExact() {
        try (var scope = MemoryScope.open()) {
            Tensor x = Tensor.of(new float[] {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.7f, -0f, 0f, -3}, 10);
            assertArrayEquals(new float[] {-2, -2, -0f, 0, 2, 2, 4, -0f, 0, -3}, x.round().toFloatArray());
            assertArrayEquals(new float[] {-1, -1, -1, 1, 1, 1, 1, -0f, 0, -1}, x.sign().toFloatArray());
        }
    }

    @Test
    void inPlaceOpsOnViews() {
        Random r = new Random(3);
        for (int n : SIZES)
            for (Layout l : new Layout[] {Layout.CONTIGUOUS, Layout.TRANSPOSED, Layout.NARROWED})
                for (DType dt : new DType[] {DType.F32, DType.F64}) {
                    try (var scope = MemoryScope.open()) {
                        Tensor d = make(dt, l, 3, n, r, -1, 1);
                        Tensor x = make(dt, Layout.EXPANDED_ROWS, 3, n, r, -1, 1);
                        double[] before = d.toDoubleArray();
                        d.addInPlace(x, -0.5);
                        for (int i = 0; i < before.length; i++)
                            assertClose(dt == DType.F32 ? (float) (before[i] - 0.5 * x.getDouble(i)) : before[i] - 0.5 * x.getDouble(i),
                                    d.getDouble(i), dt == DType.F32 ? 1e-6 : 1e-15, 1e-7, "addInPlace " + l);
                        double[] mid = d.toDoubleArray();
                        d.mulInPlace(3);
                        for (int i = 0; i < mid.length; i++) assertClose(3 * mid[i], d.getDouble(i), 1e-6, 0, "mulInPlace " + l);
                        d.fill(-7.25);
                        for (int i = 0; i < mid.length; i++) assertEquals(-7.25, d.getDouble(i), "fill " + l);
                    }
                }
    }

    @Test
    void mixedDTypesAreRejectedByName() {
        try (var scope = MemoryScope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 3), b = Tensor.zeros(DType.F64, 3);
            var e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("F64"), e.getMessage());
            Tensor i = Tensor.zeros(DType.I32, 3);
            var e2 = assertThrows(IllegalArgumentException.class, i::exp);
            assertTrue(e2.getMessage().contains("I32"), e2.getMessage());
        }
    }
}
