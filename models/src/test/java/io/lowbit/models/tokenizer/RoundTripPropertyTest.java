package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * decode(encode(s)) == s on random strings drawn from a mix of ASCII, whitespace runs, control
 * characters, Latin-1, combining marks, CJK, Hangul, emoji and other astral code points, for all three
 * tokenizer kinds; the stream decoder must produce the same text.
 */
@ExtendWith(NoLeaks.class)
class RoundTripPropertyTest {
    static String randomText(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int n = r.nextInt(40);
        for (int i = 0; i < n; i++) {
            int cp = switch (r.nextInt(10)) {
                case 0 -> " \t\n\r".charAt(r.nextInt(4));
                case 1 -> r.nextInt(0x20);                 // C0 controls incl. NUL
                case 2 -> 0x80 + r.nextInt(0x180);         // C1, Latin-1, Latin Extended
                case 3 -> 0x300 + r.nextInt(0x70);         // combining marks
                case 4 -> 0x4E00 + r.nextInt(0x5200);      // CJK
                case 5 -> 0xAC00 + r.nextInt(0x2BA4);      // Hangul
                case 6 -> 0x1F300 + r.nextInt(0x300);      // emoji
                case 7 -> 0x10000 + r.nextInt(0x100000);   // any astral
                default -> 0x20 + r.nextInt(0x5F);         // printable ASCII
            };
            if (cp == 0x2581) cp = 'x'; // SentencePiece's own space symbol decodes to a space by design
            if (r.nextInt(20) == 0) sb.append(" ".repeat(r.nextInt(30)));
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    static void check(Tokenizer t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (int k = 0; k < 300; k++) {
            String s = randomText(r);
            int[] ids = t.encode(s, t.bosId() >= 0, false);
            assertEquals(s, t.decode(ids), () -> t + " round trip of " + Arrays.toString(s.codePoints().toArray()));
            StreamDecoder d = t.streamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(d.push(id));
            assertEquals(s, sb.append(d.finish()).toString(), "stream decode");
        }
    }

    @Test
    void llama2() throws IOException {
        check(Tokenizer.load(SharedAssets.llama2()), 1);
    }

    @Test
    void mistral() throws IOException {
        check(Tokenizer.load(SharedAssets.mistral()), 2);
    }

    @Test
    void trainedByteLevel() {
        check(new BpeTrainer(600, 2, BpeTrainer.DEFAULT_SPECIALS).train(BpeTrainerTest.syntheticCorpus(100_000, 4)).tokenizer(), 3);
    }
}
