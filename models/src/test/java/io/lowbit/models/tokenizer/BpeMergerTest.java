package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The heap-based merge loop against the textbook quadratic loop on random merge tables and odd lengths. */
@ExtendWith(NoLeaks.class)
class BpeMergerTest {
    /** Repeatedly scan all pairs, merge the one with the lowest priority (leftmost on ties). */
    static int[] reference(int[] sym, Map<Long, long[]> table) {
        List<Integer> s = new ArrayList<>();
        for (int x : sym) s.add(x);
        while (true) {
            int best = -1;
            long bestPri = Long.MAX_VALUE;
            for (int i = 0; i + 1 < s.size(); i++) {
                long[] r = s.get(i) < 0 || s.get(i + 1) < 0 ? null : table.get(key(s.get(i), s.get(i + 1)));
                if (r != null && r[0] < bestPri) {
                    bestPri = r[0];
                    best = i;
                }
            }
            if (best < 0) break;
            s.set(best, (int) table.get(key(s.get(best), s.get(best + 1)))[1]);
            s.remove(best + 1);
        }
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    static long key(int a, int b) {
        return (long) a << 32 | b;
    }

    @Test
    void matchesQuadraticReference() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int trial = 0; trial < 300; trial++) {
            int alphabet = 2 + rnd.nextInt(5);
            int ids = alphabet;
            Map<Long, long[]> table = new HashMap<>();
            // random merges among existing ids; few distinct priorities so ties are common
            int merges = 1 + rnd.nextInt(30);
            for (int m = 0; m < merges; m++) {
                int a = rnd.nextInt(ids), b = rnd.nextInt(ids);
                table.putIfAbsent(key(a, b), new long[] {rnd.nextInt(6), ids++});
            }
            for (int n : new int[] {0, 1, 2, 3, 7, 31, 33, 63, 65, 127, 129}) {
                int[] sym = new int[n];
                for (int i = 0; i < n; i++) sym[i] = rnd.nextInt(10) == 0 ? -2 - i : rnd.nextInt(alphabet); // some unknown symbols
                int[] expected = reference(sym, table);
                int[] got = sym.clone();
                int len = BpeMerger.merge(got, n, (l, r) -> {
                    long[] v = table.get(key(l, r));
                    return v == null ? -1 : BpeMerger.pack((int) v[0], (int) v[1]);
                }, null);
                assertArrayEquals(expected, Arrays.copyOf(got, len), "trial " + trial + " n " + n + " input " + Arrays.toString(sym));
            }
        }
    }

    @Test
    void listenerSeesEveryMerge() {
        // a b a b with (a,b)->c prio 0 and (c,c)->d prio 1
        Map<Long, long[]> table = Map.of(key(0, 1), new long[] {0, 2}, key(2, 2), new long[] {1, 3});
        int[] sym = {0, 1, 0, 1};
        List<String> seen = new ArrayList<>();
        int n = BpeMerger.merge(sym, 4, (l, r) -> {
            long[] v = table.get(key(l, r));
            return v == null ? -1 : BpeMerger.pack((int) v[0], (int) v[1]);
        }, (l, r, res) -> seen.add(l + "+" + r + "=" + res));
        assertArrayEquals(new int[] {3}, Arrays.copyOf(sym, n));
        assertEquals(List.of("0+1=2", "0+1=2", "2+2=3"), seen);
    }
}
