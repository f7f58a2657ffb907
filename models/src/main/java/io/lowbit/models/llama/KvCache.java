package io.lowbit.models.llama;

import io.lowbit.tensor.DType;
import io.lowbit.tensor.MemoryCategory;
import io.lowbit.tensor.Tensor;
import io.lowbit.tensor.cpu.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The key/value cache of a decoder and the attention that reads it.
 *
 * <p>Layout: per layer and key/value head, positions are grouped in tiles of {@link #T} (one vector of
 * floats), and a tile stores its {@code headDim} channels one after another, each as T consecutive
 * positions: {@code [layer][kv head][tile][channel][T]}. So
 * <ul>
 *   <li>the scores of T positions, s_j = (q/√d_h)·k_j, are d_h broadcast multiply-adds on whole vectors
 *       (no lane sums, whatever the head width: stories260K's heads are 8 wide);</li>
 *   <li>attending over positions 0 … p reads one contiguous run of memory per head, which the hardware
 *       prefetcher streams (a channel-major cache, a row of maxSeq per channel, read d_h short strided
 *       runs instead and spent ~10 % of a 15M-class decoding step waiting on them).</li>
 * </ul>
 * Owns two off-heap tensors; close it.
 */
final class KvCache implements AutoCloseable {
    private static final VectorSpecies<Float> S = Kernels.S;
    /** Positions per tile: one vector. */
    static final int T = S.length();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private final int kvHeads, headDim, tiles;
    private final Tensor keys, values;
    private final MemorySegment k, v;

    /** A zeroed cache for {@code layers} blocks, {@code maxSeq} positions and kvHeads heads of headDim channels. */
    KvCache(int layers, int kvHeads, int headDim, int maxSeq) {
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.tiles = (maxSeq + T - 1) / T;
        long floats = (long) layers * kvHeads * tiles * headDim * T;
        if (floats > Integer.MAX_VALUE)
            throw new IllegalArgumentException("KV cache of " + floats + " floats per tensor is too large; use a shorter maxSeq");
        keys = Tensor.zeros(DType.F32, MemoryCategory.ACTIVATIONS, (int) floats);
        try {
            values = Tensor.zeros(DType.F32, MemoryCategory.ACTIVATIONS, (int) floats);
        } catch (RuntimeException | Error e) {
            keys.close();
            throw e;
        }
        k = keys.segment();
        v = values.segment();
    }

    /** First float of key/value head g's tiles in layer l. */
    private long headBase(int l, int g) {
        return ((long) l * kvHeads + g) * tiles * headDim * T;
    }

    /** Stores the keys and values of every head for position pos of layer l, from key[kOff …] and value[vOff …] ([kvHeads·headDim]). */
    void put(int l, int pos, float[] key, int kOff, float[] value, int vOff) {
        for (int g = 0; g < kvHeads; g++) {
            long at = headBase(l, g) + (long) (pos / T) * headDim * T + pos % T; // channel i at at + i·T
            for (int i = 0; i < headDim; i++) {
                k.setAtIndex(ValueLayout.JAVA_FLOAT, at + (long) i * T, key[kOff + g * headDim + i]);
                v.setAtIndex(ValueLayout.JAVA_FLOAT, at + (long) i * T, value[vOff + g * headDim + i]);
            }
        }
    }

    /**
     * One query head against key/value head g of layer l over positions from … pos:
     * out[outOff + i] = Σ_j p_j·v_j[i], p = softmax_j((q/√d_h)·k_j) (Vaswani et al. 2017, eq. 1).
     *
     * @param qs   the query already scaled by 1/√d_h, at qOff
     * @param att  scratch of at least (pos/T + 1)·T floats from attOff (the scores, then the weights)
     * @param acc  scratch of headDim·T floats from accOff
     */
    void attend(int l, int g, float[] qs, int qOff, int from, int pos, float[] att, int attOff,
                float[] acc, int accOff, float[] out, int outOff) {
        long head = headBase(l, g);
        int b0 = from / T, b1 = pos / T;
        scores(head, qs, qOff, b0, b1, att, attOff);
        Kernels.softmax(att, attOff + from, pos - from + 1);
        mix(head, from, pos, att, attOff, acc, accOff);
        for (int i = 0; i < headDim; i++) out[outOff + i] = Lanes.sum(FloatVector.fromArray(S, acc, accOff + i * T));
    }

    /** att[attOff + b·T …] = (q/√d_h)·k for every position of tiles b0 … b1, two tiles at a time (independent chains). */
    private void scores(long head, float[] qs, int qOff, int b0, int b1, float[] att, int attOff) {
        long stride = (long) headDim * T;
        int b = b0;
        for (; b < b1; b += 2) {
            long t0 = 4 * (head + b * stride), t1 = t0 + 4 * stride;
            FloatVector s0 = FloatVector.zero(S), s1 = s0;
            for (int i = 0; i < headDim; i++) {
                FloatVector qi = FloatVector.broadcast(S, qs[qOff + i]);
                s0 = FloatVector.fromMemorySegment(S, k, t0 + 4L * i * T, NATIVE).fma(qi, s0);
                s1 = FloatVector.fromMemorySegment(S, k, t1 + 4L * i * T, NATIVE).fma(qi, s1);
            }
            s0.intoArray(att, attOff + b * T);
            s1.intoArray(att, attOff + (b + 1) * T);
        }
        if (b == b1) {
            long t0 = 4 * (head + b * stride);
            FloatVector s0 = FloatVector.zero(S);
            for (int i = 0; i < headDim; i++)
                s0 = FloatVector.fromMemorySegment(S, k, t0 + 4L * i * T, NATIVE).fma(FloatVector.broadcast(S, qs[qOff + i]), s0);
            s0.intoArray(att, attOff + b * T);
        }
    }

    /**
     * acc[accOff + i·T + lane] = Σ over tiles of p·v[i] lane by lane, positions outside from … pos masked
     * off (their weights are not probabilities and their values may be another sequence's).
     */
    private void mix(long head, int from, int pos, float[] att, int attOff, float[] acc, int accOff) {
        Arrays.fill(acc, accOff, accOff + headDim * T, 0f);
        long stride = (long) headDim * T;
        for (int b = from / T, b1 = pos / T; b <= b1; b++) {
            int p0 = b * T;
            long tile = 4 * (head + b * stride);
            if (p0 >= from && p0 + T - 1 <= pos) {
                FloatVector p = FloatVector.fromArray(S, att, attOff + p0);
                for (int i = 0; i < headDim; i++) {
                    int a = accOff + i * T;
                    FloatVector.fromMemorySegment(S, v, tile + 4L * i * T, NATIVE).fma(p, FloatVector.fromArray(S, acc, a)).intoArray(acc, a);
                }
            } else {
                VectorMask<Float> in = S.indexInRange(p0 - from, pos - from + 1); // lanes whose position is in [from, pos]
                FloatVector p = FloatVector.fromArray(S, att, attOff + p0, in);
                for (int i = 0; i < headDim; i++) {
                    int a = accOff + i * T;
                    FloatVector.fromMemorySegment(S, v, tile + 4L * i * T, NATIVE, in).fma(p, FloatVector.fromArray(S, acc, a)).intoArray(acc, a);
                }
            }
        }
    }

    /** Floats of attention-score scratch one query head needs for maxSeq positions (whole tiles). */
    int scoreStride() {
        return tiles * T;
    }

    @Override
    public void close() {
        keys.close();
        values.close();
    }
}
