package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Lossy UTF-8 decoding and the streaming decoder. */
@ExtendWith(NoLeaks.class)
class Utf8StreamTest {
    static String lossy(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return Utf8.decodeLossy(b, 0, b.length);
    }

    @Test
    void invalidBytesBecomeOneReplacementEach() {
        assertEquals("a\uFFFDb", lossy('a', 0x80, 'b'));
        assertEquals("\uFFFD\uFFFD", lossy(0xF0, 0x9F));            // cut-off 4-byte sequence
        assertEquals("\uFFFD\uFFFD", lossy(0xC0, 0xAF));            // overlong
        assertEquals("\uFFFD\uFFFD\uFFFD", lossy(0xED, 0xA0, 0x80)); // surrogate
        assertEquals("\uFFFD\uFFFD\uFFFD\uFFFD", lossy(0xF4, 0x90, 0x80, 0x80)); // above U+10FFFF
        assertEquals("é😀", lossy(0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80));
    }

    @Test
    void validTextDecodesLikeTheJdk() throws CharacterCodingException {
        SplittableRandom r = new SplittableRandom(5);
        for (int t = 0; t < 2000; t++) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(20);
            for (int i = 0; i < n; i++) {
                int cp;
                do cp = r.nextInt(4) == 0 ? r.nextInt(0x110000) : r.nextInt(0x800);
                while (cp >= 0xD800 && cp <= 0xDFFF);
                sb.appendCodePoint(cp);
            }
            byte[] b = sb.toString().getBytes(StandardCharsets.UTF_8);
            String jdk = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            assertEquals(jdk, Utf8.decodeLossy(b, 0, b.length));
        }
    }

    @Test
    void streamingEqualsWholeDecodeForRandomIds() throws IOException {
        Tokenizer sp = SentencePieceTokenizer.load(SharedAssets.llama2());
        SplittableRandom r = new SplittableRandom(9);
        for (int t = 0; t < 300; t++) {
            int[] ids = new int[1 + r.nextInt(40)];
            // mostly byte pieces (ids 3..258) so characters are split across pieces, valid or not
            for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(3) == 0 ? r.nextInt(sp.vocabSize()) : 3 + 0x80 + r.nextInt(0x78);
            StreamDecoder d = sp.streamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(d.push(id));
            sb.append(d.finish());
            assertEquals(sp.decode(ids), sb.toString());
        }
    }
}
