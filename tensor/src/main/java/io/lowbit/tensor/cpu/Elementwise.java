package io.lowbit.tensor.cpu;

import io.lowbit.tensor.BinaryOp;
import io.lowbit.tensor.DType;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise kernels. F32 rows with unit or zero strides run on the Vector API; everything else (F64,
 * odd strides, storage dtypes) runs the scalar definitions in {@link UnaryOp#apply} and
 * {@link BinaryOp#apply}, which are also what the fast paths are tested against.
 */
final class Elementwise {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final ByteOrder LE = ByteOrder.nativeOrder();

    private Elementwise() {}

    static void unary(UnaryOp op, Tensor x, Tensor out, double arg) {
        Strided it = new Strided(out, x);
        MemorySegment so = out.segment(), sx = x.segment();
        boolean fast = x.dtype() == DType.F32 && out.dtype() == DType.F32 && it.innerStride(0) == 1 && it.innerStride(1) == 1;
        long sxs = it.innerStride(1), sos = it.innerStride(0);
        it.forAllSegments((base, len) -> {
            if (fast) {
                unaryRowF32(op, (float) arg, sx, base[1] * 4, so, base[0] * 4, len);
            } else {
                for (int j = 0; j < len; j++)
                    out.storeAt(base[0] + j * sos, op.apply(x.loadAt(base[1] + j * sxs), arg));
            }
        });
    }

    private static boolean vectorizable(UnaryOp op) {
        return op != UnaryOp.SIGN && op != UnaryOp.ROUND;
    }

    static void unaryRowF32(UnaryOp op, float c, MemorySegment sx, long xb, MemorySegment so, long ob, int len) {
        int j = 0;
        int bound = vectorizable(op) ? F.loopBound(len) : 0; // SIGN and ROUND run the scalar loop below
        FloatVector one = FloatVector.broadcast(F, 1f), zero = FloatVector.zero(F);
        for (; j < bound; j += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, LE);
            FloatVector r = switch (op) {
                case NEG -> v.neg();
                case EXP -> v.lanewise(VectorOperators.EXP);
                case LOG -> v.lanewise(VectorOperators.LOG);
                case SQRT -> v.sqrt();
                case RSQRT -> one.div(v.sqrt());
                case ABS -> v.abs();
                case TANH -> v.lanewise(VectorOperators.TANH);
                case SIGMOID -> one.div(one.add(v.neg().lanewise(VectorOperators.EXP)));
                case SILU -> v.div(one.add(v.neg().lanewise(VectorOperators.EXP)));
                case RELU -> zero.blend(v, v.compare(VectorOperators.GT, 0f)); // NaN -> 0, like UnaryOp.apply
                case SQUARE -> v.mul(v);
                case RECIPROCAL -> one.div(v);
                case ADD_SCALAR -> v.add(c);
                case MUL_SCALAR -> v.mul(c);
                case POW_SCALAR -> v.lanewise(VectorOperators.POW, c);
                case CLAMP_MIN -> v.max(c);
                case CLAMP_MAX -> v.min(c);
                case SIGN, ROUND -> throw new AssertionError(op);
            };
            r.intoMemorySegment(so, ob + 4L * j, LE);
        }
        for (; j < len; j++) {
            float v = sx.get(ValueLayout.JAVA_FLOAT, xb + 4L * j);
            so.set(ValueLayout.JAVA_FLOAT, ob + 4L * j, (float) op.apply(v, c));
        }
    }

    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        Strided it = new Strided(out, a, b);
        MemorySegment so = out.segment(), sa = a.segment(), sb = b.segment();
        long oas = it.innerStride(0), as = it.innerStride(1), bs = it.innerStride(2);
        boolean f32 = a.dtype() == DType.F32 && b.dtype() == DType.F32 && out.dtype() == DType.F32 && oas == 1
                && (as == 1 || as == 0) && (bs == 1 || bs == 0);
        boolean allF32 = a.dtype() == DType.F32 && b.dtype() == DType.F32 && out.dtype() == DType.F32;
        it.forAllSegments((base, len) -> {
            if (f32) {
                binaryRowF32(op, sa, base[1] * 4, as == 0, sb, base[2] * 4, bs == 0, so, base[0] * 4, len);
            } else if (allF32) { // strided F32 (transposed operands): scalar, but without per-element dtype dispatch
                for (int j = 0; j < len; j++) {
                    float x = sa.getAtIndex(ValueLayout.JAVA_FLOAT, base[1] + j * as);
                    float y = sb.getAtIndex(ValueLayout.JAVA_FLOAT, base[2] + j * bs);
                    so.setAtIndex(ValueLayout.JAVA_FLOAT, base[0] + j * oas, (float) op.apply(x, y));
                }
            } else {
                for (int j = 0; j < len; j++)
                    out.storeAt(base[0] + j * oas, op.apply(a.loadAt(base[1] + j * as), b.loadAt(base[2] + j * bs)));
            }
        });
    }

    static void binaryRowF32(BinaryOp op, MemorySegment sa, long ab, boolean aScalar, MemorySegment sb, long bb,
                             boolean bScalar, MemorySegment so, long ob, int len) {
        int j = 0;
        int bound = F.loopBound(len);
        float ca = aScalar ? sa.get(ValueLayout.JAVA_FLOAT, ab) : 0f;
        float cb = bScalar ? sb.get(ValueLayout.JAVA_FLOAT, bb) : 0f;
        FloatVector va0 = FloatVector.broadcast(F, ca), vb0 = FloatVector.broadcast(F, cb);
        for (; j < bound; j += F.length()) {
            FloatVector va = aScalar ? va0 : FloatVector.fromMemorySegment(F, sa, ab + 4L * j, LE);
            FloatVector vb = bScalar ? vb0 : FloatVector.fromMemorySegment(F, sb, bb + 4L * j, LE);
            FloatVector r = switch (op) {
                case ADD -> va.add(vb);
                case SUB -> va.sub(vb);
                case MUL -> va.mul(vb);
                case DIV -> va.div(vb);
                case MAX -> va.max(vb);
                case MIN -> va.min(vb);
                case GT -> FloatVector.zero(F).blend(1f, va.compare(VectorOperators.GT, vb));
            };
            r.intoMemorySegment(so, ob + 4L * j, LE);
        }
        for (; j < len; j++) {
            float x = aScalar ? ca : sa.get(ValueLayout.JAVA_FLOAT, ab + 4L * j);
            float y = bScalar ? cb : sb.get(ValueLayout.JAVA_FLOAT, bb + 4L * j);
            so.set(ValueLayout.JAVA_FLOAT, ob + 4L * j, (float) op.apply(x, y));
        }
    }

    /** dst = src with dtype conversion. */
    static void copy(Tensor src, Tensor dst) {
        Strided it = new Strided(dst, src);
        long ds = it.innerStride(0), ss = it.innerStride(1);
        boolean raw = src.dtype() == dst.dtype() && ds == 1 && ss == 1;
        int eb = dst.dtype().bytes;
        MemorySegment sd = dst.segment(), sss = src.segment();
        boolean f32to16 = src.dtype() == DType.F32 && ds == 1 && ss == 1 && (dst.dtype() == DType.BF16 || dst.dtype() == DType.F16);
        boolean from16 = dst.dtype() == DType.F32 && ds == 1 && ss == 1 && (src.dtype() == DType.BF16 || src.dtype() == DType.F16);
        boolean sameType = src.dtype() == dst.dtype();
        if (sameType && !raw && it.shape.length >= 2 && it.strides[1][it.shape.length - 2] == 1 && eb <= 8) {
            copyTransposed(it, sss, sd, eb); // src is a transposed view: copy tile by tile
            return;
        }
        it.forAllSegments((base, len) -> {
            if (raw) {
                MemorySegment.copy(sss, base[1] * eb, sd, base[0] * eb, (long) len * eb);
            } else if (sameType) {
                copyStrided(sss, base[1], ss, sd, base[0], ds, len, eb);
            } else if (from16) { // loading 16-bit checkpoints: exact widening, no per-element dtype dispatch
                if (src.dtype() == DType.BF16) {
                    for (int j = 0; j < len; j++)
                        sd.setAtIndex(ValueLayout.JAVA_INT, base[0] + j, (sss.getAtIndex(ValueLayout.JAVA_SHORT, base[1] + j) & 0xffff) << 16);
                } else {
                    for (int j = 0; j < len; j++)
                        sd.setAtIndex(ValueLayout.JAVA_FLOAT, base[0] + j, Float.float16ToFloat(sss.getAtIndex(ValueLayout.JAVA_SHORT, base[1] + j)));
                }
            } else if (f32to16) {
                boolean bf = dst.dtype() == DType.BF16;
                for (int j = 0; j < len; j++) {
                    float v = sss.getAtIndex(ValueLayout.JAVA_FLOAT, base[1] + j);
                    sd.setAtIndex(ValueLayout.JAVA_SHORT, base[0] + j, bf ? io.lowbit.tensor.Half.toBF16(v) : io.lowbit.tensor.Half.toF16(v));
                }
            } else {
                for (int j = 0; j < len; j++) dst.storeAt(base[0] + j * ds, src.loadAt(base[1] + j * ss));
            }
        });
    }

    private static final int TILE = 64;

    /**
     * Same-dtype copy where the source's unit stride runs down the rows (a transposed view): walking either
     * tensor row by row would touch a new cache line per element of the other, so both are walked in
     * TILE×TILE blocks that stay in L1.
     */
    private static void copyTransposed(Strided it, MemorySegment src, MemorySegment dst, int eb) {
        int nd = it.shape.length;
        int rows = it.shape[nd - 2], cols = it.shape[nd - 1];
        long drs = it.strides[0][nd - 2], dcs = it.strides[0][nd - 1], scs = it.strides[1][nd - 1];
        long outer = 1;
        for (int d = 0; d < nd - 2; d++) outer *= it.shape[d];
        long rowBlocks = (rows + TILE - 1) / TILE;
        Parallel.range(outer * rowBlocks, 1, (lo, hi) -> {
            for (long task = lo; task < hi; task++) {
                long o = task / rowBlocks;
                int r0 = (int) (task % rowBlocks) * TILE, r1 = Math.min(rows, r0 + TILE);
                long db = it.offsets[0], sb = it.offsets[1], rem = o;
                for (int d = nd - 3; d >= 0; d--) {
                    long idx = rem % it.shape[d];
                    rem /= it.shape[d];
                    db += idx * it.strides[0][d];
                    sb += idx * it.strides[1][d];
                }
                for (int c0 = 0; c0 < cols; c0 += TILE) {
                    int c1 = Math.min(cols, c0 + TILE);
                    for (int c = c0; c < c1; c++) {
                        long se = sb + c * scs + r0, de = db + c * dcs + r0 * drs;
                        int n = r1 - r0;
                        switch (eb) { // source elements r0..r1 of column c are adjacent
                            case 4 -> { for (int r = 0; r < n; r++) dst.setAtIndex(ValueLayout.JAVA_INT, de + r * drs, src.getAtIndex(ValueLayout.JAVA_INT, se + r)); }
                            case 8 -> { for (int r = 0; r < n; r++) dst.setAtIndex(ValueLayout.JAVA_LONG, de + r * drs, src.getAtIndex(ValueLayout.JAVA_LONG, se + r)); }
                            case 2 -> { for (int r = 0; r < n; r++) dst.setAtIndex(ValueLayout.JAVA_SHORT, de + r * drs, src.getAtIndex(ValueLayout.JAVA_SHORT, se + r)); }
                            default -> { for (int r = 0; r < n; r++) dst.set(ValueLayout.JAVA_BYTE, de + r * drs, src.get(ValueLayout.JAVA_BYTE, se + r)); }
                        }
                    }
                }
            }
        });
    }

    // element-by-element copy between strided rows of one dtype: bits are moved, never converted
    private static void copyStrided(MemorySegment src, long se, long ss, MemorySegment dst, long de, long ds, int len, int eb) {
        switch (eb) {
            case 4 -> {
                for (int j = 0; j < len; j++)
                    dst.setAtIndex(ValueLayout.JAVA_INT, de + j * ds, src.getAtIndex(ValueLayout.JAVA_INT, se + j * ss));
            }
            case 8 -> {
                for (int j = 0; j < len; j++)
                    dst.setAtIndex(ValueLayout.JAVA_LONG, de + j * ds, src.getAtIndex(ValueLayout.JAVA_LONG, se + j * ss));
            }
            case 2 -> {
                for (int j = 0; j < len; j++)
                    dst.setAtIndex(ValueLayout.JAVA_SHORT, de + j * ds, src.getAtIndex(ValueLayout.JAVA_SHORT, se + j * ss));
            }
            default -> {
                for (int j = 0; j < len; j++)
                    dst.set(ValueLayout.JAVA_BYTE, de + j * ds, src.get(ValueLayout.JAVA_BYTE, se + j * ss));
            }
        }
    }

    static void fill(Tensor dst, double v) {
        Strided it = new Strided(dst);
        long ds = it.innerStride(0);
        boolean f32 = dst.dtype() == DType.F32 && ds == 1;
        MemorySegment sd = dst.segment();
        it.forAllSegments((base, len) -> {
            if (f32) {
                FloatVector fv = FloatVector.broadcast(F, (float) v);
                int j = 0;
                for (int bound = F.loopBound(len); j < bound; j += F.length()) fv.intoMemorySegment(sd, 4 * (base[0] + j), LE);
                for (; j < len; j++) sd.setAtIndex(ValueLayout.JAVA_FLOAT, base[0] + j, (float) v);
            } else {
                for (int j = 0; j < len; j++) dst.storeAt(base[0] + j * ds, v);
            }
        });
    }

    /** dst += alpha·x */
    static void axpy(double alpha, Tensor x, Tensor dst) {
        Strided it = new Strided(dst, x);
        long ds = it.innerStride(0), xs = it.innerStride(1);
        boolean f32 = dst.dtype() == DType.F32 && x.dtype() == DType.F32 && ds == 1 && xs == 1;
        MemorySegment sd = dst.segment(), sx = x.segment();
        float fa = (float) alpha;
        it.forAllSegments((base, len) -> {
            if (f32) {
                long db = base[0] * 4, xb = base[1] * 4;
                int j = 0;
                for (int bound = F.loopBound(len); j < bound; j += F.length()) {
                    FloatVector d = FloatVector.fromMemorySegment(F, sd, db + 4L * j, LE);
                    FloatVector v = FloatVector.fromMemorySegment(F, sx, xb + 4L * j, LE);
                    v.fma(FloatVector.broadcast(F, fa), d).intoMemorySegment(sd, db + 4L * j, LE);
                }
                for (; j < len; j++) {
                    float d = sd.get(ValueLayout.JAVA_FLOAT, db + 4L * j);
                    sd.set(ValueLayout.JAVA_FLOAT, db + 4L * j, Math.fma(fa, sx.get(ValueLayout.JAVA_FLOAT, xb + 4L * j), d));
                }
            } else {
                for (int j = 0; j < len; j++) {
                    long e = base[0] + j * ds;
                    dst.storeAt(e, dst.loadAt(e) + alpha * x.loadAt(base[1] + j * xs));
                }
            }
        });
    }
}
