package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.io.Json;
import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(NoLeaks.class)
class BpeTrainerTest {
    static final int B = 3; // ids of byte b is B + b with the default three specials

    @Test
    void handComputedMerges() {
        // words: "low" x1, "Ġlow" x2, "Ġlower" x1, "Ġlowest" x1.
        // counts: (l,o)=5 (o,w)=5 -> tie, smaller left id l<o: "lo"; then "low" (5); "Ġlow" (4); "Ġlowe" (2);
        // then all remaining pairs occur once: (s,t)=(B+115,B+116) is the smallest id pair -> "st"
        TrainedBpe t = new BpeTrainer(B + 256 + 5, 1, BpeTrainer.DEFAULT_SPECIALS).train("low low low lower lowest");
        assertEquals(List.of("lo", "low", "Ġlow", "Ġlowe", "st"), t.tokens().subList(B + 256, t.tokens().size()));
        assertArrayEquals(new int[] {B + 'l', B + 'o'}, t.merges().get(0));
        assertArrayEquals(new int[] {B + 256, B + 'w'}, t.merges().get(1));
        assertArrayEquals(new int[] {B + ' ', B + 257}, t.merges().get(2)); // Ġ (byte 0x20) + low
        HfBpeTokenizer tok = t.tokenizer();
        assertArrayEquals(new int[] {1, 262, 263}, tok.encode(" lowest")); // <s> Ġlowe st
        assertArrayEquals(new int[] {B + 257, B + 'e', B + 'r'}, tok.encode("lower", false, false)); // low e r
        assertEquals(0, tok.tokenId("<unk>"));
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());

        // minFrequency 2 stops once the best pair is seen only once
        TrainedBpe t2 = new BpeTrainer(B + 256 + 50, 2, BpeTrainer.DEFAULT_SPECIALS).train("low low low lower lowest");
        assertEquals(List.of("lo", "low", "Ġlow", "Ġlowe"), t2.tokens().subList(B + 256, t2.tokens().size()));
    }

    @Test
    void incrementalCountsMatchRecountingFromScratch() {
        String corpus = syntheticCorpus(6_000, 7);
        int vocab = B + 256 + 300;
        TrainedBpe fast = new BpeTrainer(vocab, 1, BpeTrainer.DEFAULT_SPECIALS).train(corpus);
        List<int[]> slow = naiveMerges(corpus, vocab - B - 256, 1);
        assertEquals(slow.size(), fast.merges().size(), "number of merges");
        for (int i = 0; i < slow.size(); i++) {
            final int k = i;
            assertArrayEquals(slow.get(i), fast.merges().get(i), () -> "merge #" + k);
        }
    }

    /** Textbook BPE training: recount every pair of every word before each merge. */
    static List<int[]> naiveMerges(String corpus, int count, int minFrequency) {
        Map<List<Integer>, Long> words = new LinkedHashMap<>();
        for (String w : ByteLevel.splitGpt2(corpus)) {
            List<Integer> s = new ArrayList<>();
            for (byte b : w.getBytes(StandardCharsets.UTF_8)) s.add(B + (b & 0xFF));
            words.merge(s, 1L, Long::sum);
        }
        List<int[]> merges = new ArrayList<>();
        int next = B + 256;
        List<List<Integer>> keys = new ArrayList<>(words.keySet());
        List<Long> counts = new ArrayList<>(words.values());
        for (int it = 0; it < count; it++) {
            Map<Long, Long> pc = new LinkedHashMap<>();
            for (int w = 0; w < keys.size(); w++) {
                List<Integer> s = keys.get(w);
                for (int i = 0; i + 1 < s.size(); i++) pc.merge((long) s.get(i) << 32 | s.get(i + 1), counts.get(w), Long::sum);
            }
            long best = -1, bestC = 0;
            for (Map.Entry<Long, Long> e : pc.entrySet())
                if (e.getValue() > bestC || (e.getValue() == bestC && e.getKey() < best)) {
                    best = e.getKey();
                    bestC = e.getValue();
                }
            if (best < 0 || bestC < minFrequency) break;
            int a = (int) (best >>> 32), b = (int) best;
            merges.add(new int[] {a, b});
            for (List<Integer> s : keys)
                for (int i = 0; i + 1 < s.size(); i++)
                    if (s.get(i) == a && s.get(i + 1) == b) {
                        s.set(i, next);
                        s.remove(i + 1);
                    }
            next++;
        }
        return merges;
    }

    @Test
    void megabyteCorpusRoundTripAndSaveLoad(@TempDir Path dir) throws IOException {
        String corpus = syntheticCorpus(1_000_000, 1);
        long t0 = System.nanoTime();
        TrainedBpe t = new BpeTrainer(4096, 2, BpeTrainer.DEFAULT_SPECIALS).train(corpus);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("BpeTrainer: " + corpus.length() + " chars, vocab 4096 in " + ms + " ms");
        assertEquals(4096, t.tokens().size());
        assertEquals(4096 - B - 256, t.merges().size());
        assertEquals(4096, new java.util.HashSet<>(t.tokens()).size(), "tokens are distinct");

        Path file = dir.resolve("tokenizer.json");
        t.save(file);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList(), "no temporary file left behind");
        }
        Map<String, Object> json = Json.parseObject(Files.readString(file), file.toString());
        assertEquals(List.of("version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"),
                new ArrayList<>(json.keySet()));
        Tokenizer loaded = Tokenizer.load(file);
        HfBpeTokenizer inMemory = t.tokenizer();
        assertEquals(4096, loaded.vocabSize());
        assertTrue(loaded.addsBosByDefault());

        String sample = corpus.substring(10_000, 30_000);
        int[] ids = loaded.encode(sample);
        assertArrayEquals(inMemory.encode(sample), ids);
        assertEquals(1, ids[0]);
        assertEquals(sample, loaded.decode(ids));
        assertTrue(ids.length < sample.length() / 3, "4096-token BPE compresses this text more than 3x: " + ids.length + " ids for " + sample.length() + " chars");

        for (String u : new String[] {"", " ", "\u0000\u001f\u007f", "👩‍👩‍👧‍👦🦜 emoji", "日本語のテキスト", "e\u0301\u0308", "\t\n\r\n" + " ".repeat(40) + "x",
                "\uD800\uDC00", "ĠĊ literal byte-level chars"}) {
            int[] e = loaded.encode(u, false, false);
            assertEquals(u, loaded.decode(e), () -> "round trip of " + Arrays.toString(u.codePoints().toArray()));
        }
        // special tokens in text are matched whole
        int[] sp = loaded.encode("<s> inside </s>", false, false);
        assertEquals(1, sp[0]);
        assertEquals(2, sp[sp.length - 1]);
        assertEquals(" inside ", loaded.decode(sp), "special tokens are skipped when decoding");
    }

    @Test
    void trainingIsDeterministic() {
        String corpus = syntheticCorpus(50_000, 3);
        BpeTrainer tr = new BpeTrainer(1024, 2, BpeTrainer.DEFAULT_SPECIALS);
        assertEquals(Json.write(tr.train(corpus).toJson()), Json.write(tr.train(corpus).toJson()));
    }

    @Test
    void badParameters() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BpeTrainer(100, 1, BpeTrainer.DEFAULT_SPECIALS));
        assertEquals("vocabSize 100 must be in [259, 65536] (3 specials + 256 bytes at least)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BpeTrainer(1000, 0, BpeTrainer.DEFAULT_SPECIALS));
        assertThrows(IllegalArgumentException.class, () -> new BpeTrainer(1000, 1, List.of("<s>", "<s>")));
        // an empty corpus gives just specials and bytes
        TrainedBpe t = new BpeTrainer(1000, 1, List.of("<pad>")).train("");
        assertEquals(257, t.tokens().size());
        assertEquals(-1, t.tokenizer().bosId());
        assertFalse(t.tokenizer().addsBosByDefault());
    }

    /** Deterministic pseudo-English with numbers, punctuation, line breaks and some non-ASCII words. */
    static String syntheticCorpus(int chars, long seed) {
        String[] syl = {"the", "an", "ing", "er", "whale", "sea", "ship", "ca", "pt", "ain", "o", "re", "st", "ly", "ed", "tion",
                "mo", "by", "dick", "ish", "ma", "el", "qu", "ee", "queg", "star", "buck", "ahab", "harp", "oon"};
        String[] extra = {"café", "naïve", "日本", "über", "😀", "—", "1851", "42", "3.14"};
        SplittableRandom r = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder(chars + 64);
        while (sb.length() < chars) {
            int k = r.nextInt(100);
            if (k < 3) sb.append(extra[r.nextInt(extra.length)]);
            else {
                int n = 1 + r.nextInt(3);
                // Zipf-ish: low syllable indices much more frequent
                for (int i = 0; i < n; i++) sb.append(syl[(int) (syl.length * Math.pow(r.nextDouble(), 2.5))]);
            }
            int p = r.nextInt(40);
            sb.append(p == 0 ? ".\n" : p == 1 ? ", " : p == 2 ? "!  " : " ");
        }
        return sb.toString();
    }
}
