package io.lowbit.models.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import io.lowbit.tensor.testing.NoLeaks;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One long mixed paragraph (prose, numbers, punctuation, Latin/Greek/Cyrillic/Hebrew/CJK/Hangul, emoji
 * with a skin-tone modifier, math symbols, code, tab, blank line, CRLF, URL). Expected ids: Llama-2 from
 * the reference SentencePiece (python3-sentencepiece 0.1.97); Mistral from our independent quadratic
 * Python BPE over its tokenizer.json. Produced once, hard-coded. (The same two references also agreed
 * with these tokenizers on all 21,424 lines of a 1.2 MB public-domain novel, checked outside the suite.)
 */
@ExtendWith(NoLeaks.class)
class ReferenceParagraphTest {
    static final String TEXT = "It was the best of times, it was the worst of times; the engine's 7,168-dimensional hidden state (d_model = 40"
            + "96) quantized to 4 bits \u2014 NF4, GPTQ & LoRA \u2014 ran at 12.5 tok/s. \u00dcn\u00efc\u00f6d\u00e9: na\u00ef"
            + "ve caf\u00e9, \u6771\u4eac\u30bf\u30ef\u30fc, \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, \u0440\u0443\u0441"
            + "\u0441\u043a\u0438\u0439, \u05e2\u05d1\u05e8\u05d9\u05ea, \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8, emoji \ud83d\ude42"
            + "\ud83d\udc4d\ud83c\udffd, math \u2211\u222b\u221a\u03c0\u22483.14159, code `for (int i = 0; i < n; i++) { x[i]"
            + " += y[i]; }`\n\ttabbed line\n\n    indented four spaces\r\nWindows line end; URL https://example.org/a?b=c&d=e"
            + "#f.";

    static final int[] LLAMA2 = {
            739, 471, 278, 1900, 310, 3064, 29892, 372, 471, 278, 17322, 310, 3064, 29936, 278, 6012, 29915, 29879, 29871, 29955,
            29892, 29896, 29953, 29947, 29899, 12531, 7934, 2106, 313, 29881, 29918, 4299, 353, 29871, 29946, 29900, 29929, 29953, 29897, 4323,
            1891, 304, 29871, 29946, 9978, 813, 405, 29943, 29946, 29892, 402, 7982, 29984, 669, 4309, 4717, 813, 6350, 472, 29871,
            29896, 29906, 29889, 29945, 304, 29895, 29914, 29879, 29889, 7189, 29876, 30085, 29883, 9289, 29948, 29901, 1055, 30085, 345, 274,
            28059, 29892, 29871, 30591, 30675, 30369, 31028, 30185, 29892, 29871, 30311, 30142, 30142, 30183, 30133, 30136, 30173, 30216, 29892, 14251,
            2542, 29892, 29871, 30324, 30276, 30236, 30196, 30286, 29892, 29871, 30877, 31293, 31129, 29871, 240, 136, 144, 30784, 31177, 29892,
            953, 29877, 2397, 29871, 243, 162, 156, 133, 243, 162, 148, 144, 243, 162, 146, 192, 29892, 5844, 29871, 31060,
            31230, 30562, 30170, 30583, 29941, 29889, 29896, 29946, 29896, 29945, 29929, 29892, 775, 421, 1454, 313, 524, 474, 353, 29871,
            29900, 29936, 474, 529, 302, 29936, 474, 4862, 426, 921, 29961, 29875, 29962, 4619, 343, 29961, 29875, 1385, 24278, 13,
            12, 3891, 2580, 1196, 13, 13, 1678, 1399, 14927, 3023, 8162, 30004, 13, 7685, 1196, 1095, 29936, 3988, 2045, 597,
            4773, 29889, 990, 29914, 29874, 29973, 29890, 29922, 29883, 29987, 29881, 29922, 29872, 29937, 29888, 29889};

    static final int[] MISTRAL_WITH_BOS = {
            1, 661, 403, 272, 1489, 302, 2421, 28725, 378, 403, 272, 8748, 302, 2421, 28745, 272, 4456, 28742, 28713, 28705,
            28787, 28725, 28740, 28784, 28783, 28733, 13267, 7918, 1665, 325, 28715, 28730, 3549, 327, 28705, 28781, 28734, 28774, 28784, 28731,
            4664, 1332, 298, 28705, 28781, 9356, 1040, 418, 28765, 28781, 28725, 420, 6316, 28824, 567, 7300, 5244, 1040, 5591, 438,
            28705, 28740, 28750, 28723, 28782, 12666, 28748, 28713, 28723, 13156, 28711, 28920, 28717, 14697, 28797, 28747, 1879, 28920, 333, 28345,
            28725, 28705, 30366, 29936, 29341, 30455, 28990, 28725, 28705, 29563, 29027, 29027, 29049, 28976, 28980, 29045, 29201, 28725, 24379, 4704,
            28725, 28705, 29295, 29166, 29075, 29005, 29064, 28725, 28705, 29282, 30779, 29433, 28705, 240, 136, 144, 29304, 29404, 28725, 877,
            27813, 28705, 29340, 30195, 31007, 28725, 11049, 28705, 31384, 229, 139, 174, 30147, 29030, 29988, 28770, 28723, 28740, 28781, 28740,
            28782, 28774, 28725, 2696, 1552, 1392, 325, 501, 613, 327, 28705, 28734, 28745, 613, 523, 307, 28745, 613, 3073, 371,
            1318, 28792, 28710, 28793, 2679, 337, 28792, 28710, 1668, 443, 28832, 13, 12, 4252, 3101, 1407, 13, 13, 2287, 1176,
            12713, 2308, 10599, 28801, 13, 7984, 1407, 948, 28745, 9066, 4449, 1508, 7476, 28723, 1909, 28748, 28708, 28804, 28726, 28746,
            28717, 28800, 28715, 28746, 28706, 28771, 28722, 28723};

    @Test
    void llama2() throws IOException {
        Tokenizer t = Tokenizer.load(SharedAssets.llama2());
        assertArrayEquals(LLAMA2, t.encode(TEXT, false, false));
        assertEquals(TEXT, t.decode(LLAMA2));
    }

    @Test
    void mistral() throws IOException {
        Tokenizer t = Tokenizer.load(SharedAssets.mistral());
        assertArrayEquals(MISTRAL_WITH_BOS, t.encode(TEXT));
        assertEquals(TEXT, t.decode(MISTRAL_WITH_BOS));
    }
}
