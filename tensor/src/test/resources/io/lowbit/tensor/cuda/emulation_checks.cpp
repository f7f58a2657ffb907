// Checks of lowbit's CUDA kernels run on the host through emulation_prelude.h. KernelEmulationTest
// includes this file twice, each time inside a namespace right after the kernel module of one element
// type (the module defines T); run() prints "N passed, M failed". References are plain loops written
// from each kernel's definition.

static int passed = 0, failed = 0;
static bool caseOk;
static const char* caseName;
static void fail(const char* fmt, ...) {
    if (caseOk) {
        std::printf("FAILED %s: ", caseName);
        va_list ap;
        va_start(ap, fmt);
        std::vfprintf(stdout, fmt, ap);
        va_end(ap);
        std::printf("\n");
    }
    caseOk = false;
}
static void begin(const char* name) { caseName = name; caseOk = true; }
static void end() { if (caseOk) passed++; else failed++; }

static const bool F32 = sizeof(T) == 4;
static const double RTOL = F32 ? 2e-5 : 1e-12, ATOL = F32 ? 1e-6 : 1e-13;

static bool near(double got, double want, double rtol = RTOL, double atol = ATOL) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

static Layout lay(std::initializer_list<long long> shape, std::initializer_list<long long> stride, long long off = 0) {
    Layout L{};
    L.nd = (long long) shape.size();
    L.offset = off;
    int d = 0;
    for (long long s : shape) L.shape[d++] = s;
    d = 0;
    for (long long s : stride) L.stride[d++] = s;
    return L;
}

static Layout contig(std::initializer_list<long long> shape) {
    std::vector<long long> s(shape);
    Layout L{};
    L.nd = (long long) s.size();
    long long acc = 1;
    for (int d = (int) s.size() - 1; d >= 0; d--) { L.shape[d] = s[d]; L.stride[d] = acc; acc *= s[d]; }
    return L;
}

static long long blocksFor(long long n) { return (n + 255) / 256; }

struct Rng {
    uint64_t s;
    double next() { s = s * 6364136223846793005ULL + 1442695040888963407ULL; return (double) (s >> 11) * 0x1.0p-53; }
    double uni(double a, double b) { return a + (b - a) * next(); }
    uint32_t bits() { next(); return (uint32_t) (s >> 32); }
};

static std::vector<T> randomT(Rng& r, size_t n, double lo, double hi) {
    std::vector<T> v(n);
    for (auto& x : v) x = (T) r.uni(lo, hi);
    return v;
}

// ---------------------------------------------------------------- conversions (float build)

// the reference f16 rounding: the CPU's F16C instruction where there is one, else GCC's software _Float16
__attribute__((target("f16c"))) static uint16_t refF16hw(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
static uint16_t refF16sw(float f) {
    _Float16 h = (_Float16) f;
    uint16_t u;
    std::memcpy(&u, &h, 2);
    return u;
}

static void checkF16Range(uint64_t lo, uint64_t hi, uint64_t step, bool hw, uint64_t* bad, uint32_t* firstBad) {
    for (uint64_t u = lo; u < hi; u += step) {
        float f = __uint_as_float((uint32_t) u);
        uint16_t got = f32_to_f16(f);
        bool ok;
        if (std::isnan(f)) ok = (got & 0x7c00) == 0x7c00 && (got & 0x3ff) != 0 && (got & 0x8000) == (((uint32_t) u >> 16) & 0x8000);
        else ok = got == (hw ? refF16hw(f) : refF16sw(f));
        if (!ok && (*bad)++ == 0) *firstBad = (uint32_t) u;
    }
}

static void conversions(uint64_t f16Step) {
    bool hw = __builtin_cpu_supports("f16c");
    begin("f16 encode of every f16Step-th float bit pattern (round to nearest even, subnormals, overflow)");
    {
        uint64_t step = hw ? f16Step : f16Step * 97, bad0 = 0, bad1 = 0;
        uint32_t first0 = 0, first1 = 0;
        std::thread t0([&] { checkF16Range(0, 1ULL << 31, step, hw, &bad0, &first0); });
        checkF16Range(1ULL << 31, 1ULL << 32, step, hw, &bad1, &first1);
        t0.join();
        if (bad0 + bad1) fail("%llu mismatches, first bits 0x%08x", (unsigned long long) (bad0 + bad1), bad0 ? first0 : first1);
    }
    end();

    begin("f16 decode, all 65536 codes");
    for (uint32_t h = 0; h < 65536; h++) {
        float got = f16_to_f32((unsigned short) h);
        _Float16 hh;
        uint16_t hb = (uint16_t) h;
        std::memcpy(&hh, &hb, 2);
        float want = (float) hh;
        if (std::isnan(want) ? !std::isnan(got) : __float_as_uint(got) != __float_as_uint(want)) { fail("code 0x%04x: got %g want %g", h, got, want); break; }
    }
    end();

    begin("bf16 encode is the nearest bf16, ties to even (20M random bit patterns and specials)");
    {
        Rng r{42};
        for (long i = 0; i < 20000000; i++) {
            uint32_t u = i < 16 ? (uint32_t[]) {0, 0x80000000u, 0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0x00008000u,
                                                  0x00018000u, 0x7f800000u, 0xff800000u, 0x3f800001u, 0x3f807fffu, 0x80008000u, 0x00007fffu, 0x1u}[i]
                                 : r.bits();
            float f = __uint_as_float(u);
            if (std::isnan(f)) continue;
            uint16_t got = f32_to_bf16(f);
            uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
            double dl = std::fabs((double) f - (double) __uint_as_float(lo));
            double vh = ((hi >> 23) & 0xff) == 0xff ? std::copysign(std::ldexp(1.0, 128), (double) f) : (double) __uint_as_float(hi);
            double dh = std::fabs(vh - (double) f);
            uint16_t want = (uint16_t) ((dl < dh || (dl == dh && ((lo >> 16) & 1) == 0)) ? lo >> 16 : hi >> 16);
            if (std::isinf(f)) want = (uint16_t) (u >> 16);
            if (got != want) { fail("bits 0x%08x: got 0x%04x want 0x%04x", u, got, want); break; }
        }
    }
    end();

    begin("integer stores round half to even and saturate; NaN stores 0");
    {
        double in[] = {2.5, 3.5, -2.5, 127.5, 128, -128.5, -129, 255.5, 300, -3, 3e9, -3e9, NAN, 0.49999997};
        const int n = 14;
        signed char i8[n]; int i32[n]; unsigned char u8[n];
        Layout L = contig({n});
        emuLaunch(1, [&] { convert(in, L, 1, i8, L, 4, n); });
        emuLaunch(1, [&] { convert(in, L, 1, i32, L, 5, n); });
        emuLaunch(1, [&] { convert(in, L, 1, u8, L, 6, n); });
        int wi8[] = {2, 4, -2, 127, 127, -128, -128, 127, 127, -3, 127, -128, 0, 0};
        long long wi32[] = {2, 4, -2, 128, 128, -128, -129, 256, 300, -3, 2147483647LL, -2147483648LL, 0, 0};
        int wu8[] = {2, 4, 0, 128, 128, 0, 0, 255, 255, 0, 255, 0, 0, 0};
        for (int i = 0; i < n; i++)
            if (i8[i] != wi8[i] || i32[i] != wi32[i] || u8[i] != wu8[i]) { fail("value %g: i8 %d/%d i32 %d/%lld u8 %d/%d", in[i], i8[i], wi8[i], i32[i], wi32[i], u8[i], wu8[i]); break; }
    }
    end();
}

// ---------------------------------------------------------------- elementwise

static void elementwise() {
    Rng r{7};
    begin("convert reads a transposed view and writes F64");
    {
        std::vector<T> x = randomT(r, 7 * 33, -3, 3);
        std::vector<double> y(7 * 33);
        Layout Ls = lay({33, 7}, {1, 33}), Ld = contig({33, 7});
        emuLaunch(blocksFor(231), [&] { convert(x.data(), Ls, F32 ? 0 : 1, y.data(), Ld, 1, 231); });
        for (int i = 0; i < 33; i++) for (int j = 0; j < 7; j++)
            if (y[i * 7 + j] != (double) x[j * 33 + i]) { fail("at %d,%d", i, j); i = 33; break; }
    }
    end();

    begin("fill of a narrowed view leaves the rest alone");
    {
        std::vector<T> x(5 * 9, (T) 1);
        Layout L = lay({5, 3}, {9, 1}, 2);
        emuLaunch(1, [&] { fill(x.data(), L, F32 ? 0 : 1, 4.5, 15); });
        for (int i = 0; i < 5; i++) for (int j = 0; j < 9; j++)
            if ((double) x[i * 9 + j] != (j >= 2 && j < 5 ? 4.5 : 1.0)) { fail("at %d,%d", i, j); i = 5; break; }
    }
    end();

    const char* names[] = {"NEG", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "TANH", "SIGMOID", "SILU", "RELU", "SQUARE", "RECIPROCAL", "SIGN",
                           "ROUND", "ADD_SCALAR", "MUL_SCALAR", "POW_SCALAR", "CLAMP_MIN", "CLAMP_MAX"};
    for (int op = 0; op < 19; op++) {
        begin(names[op]);
        bool positive = op == 2 || op == 3 || op == 4 || op == 16;
        int n = 1000;
        std::vector<T> x = randomT(r, n, positive ? 0.05 : -4, 4), y(n);
        for (int i = 0; i < n; i += 7) if (op == 13) x[i] = (T) (std::floor((double) x[i]) + 0.5);
        if (!positive) { x[1] = (T) 0; x[2] = (T) -0.0; x[3] = (T) NAN; }
        double c = op == 16 ? 1.7 : 0.25;
        Layout L = contig({n});
        emuLaunch(blocksFor(n), [&] { unary(op, x.data(), L, y.data(), L, c, n); });
        for (int i = 0; i < n; i++) {
            double v = (double) x[i], w;
            switch (op) {
                case 0: w = -v; break;
                case 1: w = std::exp(v); break;
                case 2: w = std::log(v); break;
                case 3: w = std::sqrt(v); break;
                case 4: w = 1 / std::sqrt(v); break;
                case 5: w = std::fabs(v); break;
                case 6: w = std::tanh(v); break;
                case 7: w = 1 / (1 + std::exp(-v)); break;
                case 8: w = v / (1 + std::exp(-v)); break;
                case 9: w = v > 0 ? v : 0; break;
                case 10: w = v * v; break;
                case 11: w = 1 / v; break;
                case 12: w = std::isnan(v) ? v : (v > 0 ? 1 : (v < 0 ? -1 : v)); break;
                case 13: w = std::nearbyint(v); break;
                case 14: w = v + (double) (T) c; break;
                case 15: w = v * (double) (T) c; break;
                case 16: w = std::pow(v, (double) (T) c); break;
                case 17: w = std::isnan(v) ? v : std::max(v, (double) (T) c); break;
                default: w = std::isnan(v) ? v : std::min(v, (double) (T) c); break;
            }
            if (!near((double) y[i], w, F32 ? 1e-6 : 1e-14, F32 ? 1e-7 : 1e-15)) { fail("x=%.9g got %.9g want %.9g", v, (double) y[i], w); break; }
            if (op == 12 && v == 0 && std::signbit(v) != std::signbit((double) y[i])) { fail("sign of %g lost its sign", v); break; }
        }
        end();
    }

    for (int op = 0; op < 7; op++) {
        begin(op == 0 ? "binary ADD broadcast [7,1,33] with [5,1]" : op == 4 ? "binary MAX broadcast (NaN propagates)" : "binary op broadcast");
        std::vector<T> a = randomT(r, 7 * 33, -2, 2), b = randomT(r, 5, 0.5, 2);
        a[4] = (T) NAN;
        int n = 7 * 5 * 33;
        std::vector<T> out(n);
        Layout La = lay({7, 5, 33}, {33, 0, 1}), Lb = lay({7, 5, 33}, {0, 1, 0});
        emuLaunch(blocksFor(n), [&] { binary(op, a.data(), La, b.data(), Lb, out.data(), n); });
        for (int i = 0; i < 7 && caseOk; i++) for (int j = 0; j < 5 && caseOk; j++) for (int k = 0; k < 33; k++) {
            double x = (double) a[i * 33 + k], y = (double) b[j], w;
            switch (op) {
                case 0: w = (double) (T) (x + y); break;
                case 1: w = (double) (T) (x - y); break;
                case 2: w = (double) (T) (x * y); break;
                case 3: w = (double) (T) (x / y); break;
                case 4: w = std::isnan(x) || std::isnan(y) ? NAN : std::max(x, y); break;
                case 5: w = std::isnan(x) || std::isnan(y) ? NAN : std::min(x, y); break;
                default: w = x > y ? 1 : 0; break;
            }
            if (!near((double) out[(i * 5 + j) * 33 + k], w)) { fail("op %d at %d,%d,%d", op, i, j, k); break; }
        }
        end();
    }

    begin("axpy into a transposed destination");
    {
        std::vector<T> x = randomT(r, 6 * 4, -1, 1), d = randomT(r, 4 * 6, -1, 1), d0 = d;
        Layout Lx = contig({6, 4}), Ld = lay({6, 4}, {1, 6});
        emuLaunch(1, [&] { axpy(0.5, x.data(), Lx, d.data(), Ld, 24); });
        for (int i = 0; i < 6; i++) for (int j = 0; j < 4; j++)
            if (!near((double) d[j * 6 + i], (double) d0[j * 6 + i] + 0.5 * (double) x[i * 4 + j])) { fail("at %d,%d", i, j); i = 6; break; }
    }
    end();
}

// ---------------------------------------------------------------- reductions and row kernels

static void reductions() {
    Rng r{11};
    const int A = 7, L = 1025, C = 3;
    std::vector<T> x = randomT(r, A * L * C, -4, 4);
    x[(0 * L + 5) * C + 1] = (T) 100; x[(0 * L + 9) * C + 1] = (T) 100;      // a tie in row (0, 1): first wins
    x[(2 * L + 700) * C + 0] = (T) NAN; x[(2 * L + 800) * C + 0] = (T) NAN;  // NaNs in row (2, 0)
    Layout K = lay({A, C}, {L * C, 1}), R = lay({L}, {C});
    const char* names[] = {"reduce SUM over 1025 strided values", "reduce MEAN", "reduce MAX (NaN propagates)", "reduce MIN", "reduce ARGMAX (first max, first NaN)"};
    for (int op = 0; op < 5; op++) {
        begin(names[op]);
        std::vector<T> out(A * C);
        std::vector<int> idx(A * C);
        void* o = op == 4 ? (void*) idx.data() : (void*) out.data();
        emuLaunch(A * C, [&] { reduce(op, x.data(), K, R, L, o); });
        for (int a = 0; a < A && caseOk; a++) for (int c = 0; c < C; c++) {
            double s = 0, m = (double) x[(a * L) * C + c], mn = m, am = m;
            int best = 0;
            for (int j = 0; j < L; j++) {
                double v = (double) x[(a * L + j) * C + c];
                s += v;
                m = std::isnan(m) || std::isnan(v) ? NAN : std::max(m, v);
                mn = std::isnan(mn) || std::isnan(v) ? NAN : std::min(mn, v);
                if (v > am || (std::isnan(v) && !std::isnan(am))) { am = v; best = j; }
            }
            double want = op == 0 ? s : op == 1 ? s / L : op == 2 ? m : mn;
            if (op == 4 ? idx[a * C + c] != best : !near((double) out[a * C + c], want, F32 ? 1e-5 : 1e-12, 1e-5)) {
                fail("row %d,%d: got %g want %g", a, c, op == 4 ? (double) idx[a * C + c] : (double) out[a * C + c], op == 4 ? (double) best : want);
                break;
            }
        }
        end();
    }

    for (int logOut = 0; logOut < 2; logOut++) {
        begin(logOut ? "logSoftmax along a strided dimension" : "softmax along a strided dimension (large values)");
        const int P = 5, Q = 300, S = 2;
        std::vector<T> y = randomT(r, P * Q * S, -5, 5), out(P * Q * S);
        y[1] = (T) 1000;
        Layout Kx = lay({P, S}, {Q * S, 1}), Ko = Kx;
        emuLaunch(P * S, [&] { softmax(y.data(), Kx, S, out.data(), Ko, S, Q, logOut); });
        for (int p = 0; p < P && caseOk; p++) for (int s = 0; s < S; s++) {
            double m = -INFINITY, sum = 0;
            for (int q = 0; q < Q; q++) m = std::max(m, (double) y[(p * Q + q) * S + s]);
            for (int q = 0; q < Q; q++) sum += std::exp((double) y[(p * Q + q) * S + s] - m);
            for (int q = 0; q < Q; q++) {
                double z = (double) y[(p * Q + q) * S + s] - m, w = logOut ? z - std::log(sum) : std::exp(z) / sum;
                if (!near((double) out[(p * Q + q) * S + s], w, F32 ? 1e-5 : 1e-12, 1e-7)) { fail("at %d,%d,%d", p, q, s); q = Q; s = S; }
            }
        }
        end();
    }

    begin("rms_norm rows of 1025");
    {
        const int rows = 3, n = 1025;
        std::vector<T> v = randomT(r, rows * n, -2, 2), w = randomT(r, n, 0.5, 1.5), y(rows * n), rstd(rows);
        emuLaunch(rows, [&] { rms_norm(v.data(), w.data(), y.data(), rstd.data(), n, 1e-6); });
        for (int i = 0; i < rows && caseOk; i++) {
            double ss = 0;
            for (int j = 0; j < n; j++) ss += (double) v[i * n + j] * (double) v[i * n + j];
            double rs = 1 / std::sqrt(ss / n + 1e-6);
            if (!near((double) rstd[i], rs)) fail("rstd row %d", i);
            for (int j = 0; j < n; j++) if (!near((double) y[i * n + j], (double) v[i * n + j] * rs * (double) w[j])) { fail("row %d col %d", i, j); break; }
        }
    }
    end();

    begin("cross_entropy loss and gradient, one ignored row");
    {
        const int rows = 3, v = 700;
        std::vector<T> z = randomT(r, rows * v, -6, 6), loss(rows), grad(rows * v);
        int t[] = {5, -100, 699};
        emuLaunch(rows, [&] { cross_entropy(z.data(), t, loss.data(), grad.data(), v, 0.5); });
        for (int i = 0; i < rows && caseOk; i++) {
            double m = -INFINITY, s = 0;
            for (int j = 0; j < v; j++) m = std::max(m, (double) z[i * v + j]);
            for (int j = 0; j < v; j++) s += std::exp((double) z[i * v + j] - m);
            double want = t[i] < 0 ? 0 : m + std::log(s) - (double) z[i * v + t[i]];
            if (!near((double) loss[i], want, F32 ? 1e-5 : 1e-12, 1e-6)) fail("loss row %d: got %g want %g", i, (double) loss[i], want);
            for (int j = 0; j < v; j++) {
                double g = t[i] < 0 ? 0 : 0.5 * (std::exp((double) z[i * v + j] - m) / s - (j == t[i] ? 1 : 0));
                if (!near((double) grad[i * v + j], g, F32 ? 1e-5 : 1e-12, 1e-8)) { fail("grad row %d col %d", i, j); break; }
            }
        }
    }
    end();

    begin("rope rotate-half, and its inverse");
    {
        const int rows = 4, d = 16;
        std::vector<T> x = randomT(r, rows * d, -1, 1), y(rows * d), back(rows * d);
        int pos[] = {0, 1, 37, 4095};
        emuLaunch(1, [&] { rope(x.data(), pos, y.data(), rows, d, 10000.0, 0); });
        emuLaunch(1, [&] { rope(y.data(), pos, back.data(), rows, d, 10000.0, 1); });
        for (int i = 0; i < rows && caseOk; i++) for (int j = 0; j < d / 2; j++) {
            double ang = pos[i] * std::pow(10000.0, -2.0 * j / d), a = (double) x[i * d + j], b = (double) x[i * d + j + d / 2];
            if (!near((double) y[i * d + j], a * std::cos(ang) - b * std::sin(ang)) || !near((double) y[i * d + j + d / 2], b * std::cos(ang) + a * std::sin(ang))
                || !near((double) back[i * d + j], a, 1e-5, 1e-6)) { fail("row %d pair %d", i, j); break; }
        }
    }
    end();
}

// ---------------------------------------------------------------- indexing and quantization

static void indexing() {
    Rng r{13};
    begin("index_select [outer, d, inner]");
    {
        const int outer = 3, d = 31, inner = 5, n = 4;
        std::vector<T> x = randomT(r, outer * d * inner, -1, 1), out(outer * n * inner);
        int ids[] = {30, 0, 7, 7};
        emuLaunch(1, [&] { index_select(x.data(), ids, out.data(), outer, d, n, inner); });
        for (int o = 0; o < outer; o++) for (int j = 0; j < n; j++) for (int k = 0; k < inner; k++)
            if (out[(o * n + j) * inner + k] != x[(o * d + ids[j]) * inner + k]) { fail("at %d,%d,%d", o, j, k); o = outer; j = n; break; }
    }
    end();

    begin("gather dim 1, scatter_add dim 1 (repeated targets), index_add dim 0");
    {
        const int rows = 9, cols = 7, m = 3;
        std::vector<T> x = randomT(r, rows * cols, -1, 1), g(rows * m), src = randomT(r, rows * m, -1, 1), sa = x;
        std::vector<int> idx(rows * m);
        for (auto& i : idx) i = (int) (r.next() * cols);
        idx[0] = idx[1] = idx[2] = 3;
        Layout Lxi = lay({rows, m}, {cols, 1}), Li = contig({rows, m});
        emuLaunch(1, [&] { gather(x.data(), Lxi, idx.data(), Li, m, 1, 1, g.data(), rows * m); });
        emuLaunch(1, [&] { scatter_add(sa.data(), Lxi, idx.data(), Li, src.data(), Li, m, 1, 1, rows * m); });
        std::vector<double> want(x.begin(), x.end());
        for (int i = 0; i < rows; i++) for (int j = 0; j < m; j++) {
            if (g[i * m + j] != x[i * cols + idx[i * m + j]]) fail("gather at %d,%d", i, j);
            want[i * cols + idx[i * m + j]] += (double) src[i * m + j];
        }
        for (int i = 0; i < rows * cols; i++) if (!near((double) sa[i], want[i], 1e-5, 1e-6)) { fail("scatter_add at %d", i); break; }
        std::vector<T> dst = randomT(r, 4 * 6, -1, 1), d0 = dst, s2 = randomT(r, 5 * 6, -1, 1);
        int ids[] = {3, 0, 3, 3, 1};
        Layout Lrow = lay({6}, {1}), Ls = contig({5, 6});
        emuLaunch(1, [&] { index_add(dst.data(), Lrow, 6, ids, s2.data(), Ls, 6, 30); });
        std::vector<double> wd(d0.begin(), d0.end());
        for (int i = 0; i < 5; i++) for (int k = 0; k < 6; k++) wd[ids[i] * 6 + k] += (double) s2[i * 6 + k];
        for (int i = 0; i < 24; i++) if (!near((double) dst[i], wd[i], 1e-5, 1e-6)) { fail("index_add at %d", i); break; }
    }
    end();

    begin("nf4_dequant, high nibble first, zero block, short last block");
    {
        const int n = 64 * 3 + 17;
        std::vector<int> q(n);
        std::vector<unsigned char> packed((n + 1) / 2, 0);
        for (int i = 0; i < n; i++) { q[i] = (int) (r.next() * 16); packed[i / 2] |= (unsigned char) (i % 2 == 0 ? q[i] << 4 : q[i]); }
        float absmax[] = {0.5f, 0.f, 2.25f, 1e-3f};
        std::vector<T> w(n);
        emuLaunch(blocksFor(n), [&] { nf4_dequant(packed.data(), absmax, 64, w.data(), n); });
        for (int i = 0; i < n; i++) if (!near((double) w[i], (double) (NF4_LEVELS[q[i]] * absmax[i / 64]), 0, 0)) { fail("at %d", i); break; }
        if (NF4_LEVELS[7] != 0.f || NF4_LEVELS[0] != -1.f || NF4_LEVELS[15] != 1.f) fail("NF4 table ends");
    }
    end();

    begin("intb_dequant for 1..8 bits, LSB-first stream");
    for (int bits = 1; bits <= 8 && caseOk; bits++) {
        const int n = 129, group = 32, groups = 5;
        std::vector<int> q(n);
        std::vector<unsigned char> packed((n * bits + 7) / 8 + 1, 0);
        for (int i = 0; i < n; i++) {
            q[i] = (int) (r.next() * (1 << bits));
            for (int b = 0; b < bits; b++) if ((q[i] >> b) & 1) packed[(i * bits + b) / 8] |= (unsigned char) (1 << ((i * bits + b) % 8));
        }
        float sc[groups], zp[groups];
        for (int g = 0; g < groups; g++) { sc[g] = (float) r.uni(0.01, 0.1); zp[g] = (float) r.uni(0, (1 << bits) - 1); }
        std::vector<T> w(n);
        emuLaunch(1, [&] { intb_dequant(packed.data(), bits, sc, zp, group, w.data(), n); });
        for (int i = 0; i < n; i++)
            if (!near((double) w[i], (double) (T) (((float) q[i] - zp[i / group]) * sc[i / group]), 0, 0)) { fail("%d bits at %d", bits, i); break; }
    }
    end();

    begin("fake_quant forward clamps to the grid, STE mask and backward");
    {
        const int n = 65, group = 16;
        std::vector<T> x = randomT(r, n, -1.2, 1.2), y(n), mask(n), dy = randomT(r, n, -1, 1), dx(n);
        float sc[5], zp[5];
        for (int g = 0; g < 5; g++) { sc[g] = (float) r.uni(0.05, 0.15); zp[g] = 8.f; }
        emuLaunch(1, [&] { fake_quant(x.data(), sc, zp, group, 0.0, 15.0, y.data(), mask.data(), n); });
        emuLaunch(1, [&] { fake_quant_backward(dy.data(), mask.data(), dx.data(), n); });
        int clipped = 0;
        for (int i = 0; i < n; i++) {
            double s = sc[i / group], z = zp[i / group], q = std::nearbyint((double) x[i] / s) + z;
            bool in = q >= 0 && q <= 15;
            clipped += !in;
            double wy = (std::min(15.0, std::max(0.0, q)) - z) * s;
            if (!near((double) y[i], wy) || (double) mask[i] != (in ? 1 : 0) || (double) dx[i] != (in ? (double) dy[i] : 0)) { fail("at %d", i); break; }
        }
        if (clipped == 0) fail("the test data never clipped");
    }
    end();
}

int run(uint64_t f16Step) {
    if (F32) conversions(f16Step);
    elementwise();
    reductions();
    indexing();
    std::printf("%s kernels: %d passed, %d failed\n", F32 ? "float" : "double", passed, failed);
    return failed == 0 ? 0 : 1;
}
