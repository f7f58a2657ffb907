package io.lowbit.tensor.cuda;

/**
 * The CUDA C of every kernel lowbit runs on a GPU, compiled at run time by NVRTC ({@link KernelCache}).
 * One source per element type: {@link #module(String)} prefixes {@code typedef float T;} or
 * {@code typedef double T;}. Kernels are deliberately plain: one thread per element, or one 256-thread
 * block per row with a shared-memory tree reduction. Strided tensors arrive as a {@code Layout} struct
 * (rank, element offset, shape and element strides; see {@link Layout}); dtype codes are
 * {@link io.lowbit.tensor.DType} ordinals (F32 0, F64 1, BF16 2, F16 3, I8 4, I32 5, U8 6).
 */
final class KernelSource {
    private KernelSource() {}

    /** Threads per block for the row kernels (the reductions assume a power of two). */
    static final int BLOCK = 256;

    /** The full source for element type {@code t} ("float" or "double"). */
    static String module(String t) {
        return "typedef " + t + " T;\n" + COMMON + CONVERT + ELEMENTWISE + REDUCE + INDEX + LLAMA + QUANT;
    }

    static final String COMMON = """
            #define MAXD 8
            #define BLOCK 256
            struct Layout { long long nd; long long offset; long long shape[MAXD]; long long stride[MAXD]; };

            // storage element index of logical (row-major) flat index i
            __device__ long long at(const Layout& L, long long i) {
                long long e = L.offset;
                for (int d = (int) L.nd - 1; d >= 0; d--) {
                    long long q = i / L.shape[d];
                    e += (i - q * L.shape[d]) * L.stride[d];
                    i = q;
                }
                return e;
            }

            __device__ long long tid() { return (long long) blockIdx.x * blockDim.x + threadIdx.x; }

            // NaN test that needs no math header (NVRTC, nvcc and host compilers agree on it without fast-math)
            __device__ bool is_nan(double v) { return v != v; }

            // bf16: the top 16 bits of a float, rounded to nearest even; NaN stays a quiet NaN
            __device__ unsigned short f32_to_bf16(float f) {
                unsigned int b = __float_as_uint(f);
                if ((b & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((b >> 16) | 0x40u);
                return (unsigned short) ((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
            }
            __device__ float bf16_to_f32(unsigned short h) { return __uint_as_float(((unsigned int) h) << 16); }

            // IEEE binary16, round to nearest even, overflow to infinity, subnormals kept
            __device__ unsigned short f32_to_f16(float f) {
                unsigned int x = __float_as_uint(f);
                unsigned int sign = (x >> 16) & 0x8000u;
                unsigned int ax = x & 0x7fffffffu;
                if (ax > 0x7f800000u) return (unsigned short) (sign | 0x7e00u);          // NaN
                if (ax >= 0x477ff000u) return (unsigned short) (sign | 0x7c00u);         // >= 65520 rounds to inf
                if (ax >= 0x38800000u) {                                                  // normal: >= 2^-14
                    unsigned int h = ((((ax >> 23) - 112u)) << 10) | ((ax & 0x7fffffu) >> 13);
                    unsigned int rem = ax & 0x1fffu;
                    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;              // carry may bump the exponent: correct
                    return (unsigned short) (sign | h);
                }
                if (ax <= 0x33000000u) return (unsigned short) sign;                     // <= 2^-25 rounds to zero
                unsigned int e = ax >> 23;                                                // 102..112
                unsigned int m = (ax & 0x7fffffu) | 0x800000u;                            // value = m * 2^(e-150)
                unsigned int shift = 126u - e;                                            // to units of 2^-24
                unsigned int h = m >> shift;
                unsigned int rem = m & ((1u << shift) - 1u);
                unsigned int half = 1u << (shift - 1u);
                if (rem > half || (rem == half && (h & 1u))) h++;
                return (unsigned short) (sign | h);
            }
            __device__ float f16_to_f32(unsigned short h) {
                unsigned int sign = ((unsigned int) h & 0x8000u) << 16;
                unsigned int e = ((unsigned int) h >> 10) & 0x1fu, m = (unsigned int) h & 0x3ffu;
                if (e == 0u) { float v = (float) m * 5.9604644775390625e-8f; return sign ? -v : v; }   // m * 2^-24
                if (e == 31u) return __uint_as_float(sign | 0x7f800000u | (m << 13));
                return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
            }

            __device__ double load_any(const void* p, int dt, long long e) {
                switch (dt) {
                    case 0: return ((const float*) p)[e];
                    case 1: return ((const double*) p)[e];
                    case 2: return bf16_to_f32(((const unsigned short*) p)[e]);
                    case 3: return f16_to_f32(((const unsigned short*) p)[e]);
                    case 4: return ((const signed char*) p)[e];
                    case 5: return ((const int*) p)[e];
                    default: return ((const unsigned char*) p)[e];
                }
            }

            // integers round half to even and saturate; NaN becomes 0 (as Java's casts do)
            __device__ double saturate(double v, double lo, double hi) {
                if (is_nan(v)) return 0.0;
                v = rint(v);
                return v < lo ? lo : (v > hi ? hi : v);
            }

            __device__ void store_any(void* p, int dt, long long e, double v) {
                switch (dt) {
                    case 0: ((float*) p)[e] = (float) v; break;
                    case 1: ((double*) p)[e] = v; break;
                    case 2: ((unsigned short*) p)[e] = f32_to_bf16((float) v); break;
                    case 3: ((unsigned short*) p)[e] = f32_to_f16((float) v); break;
                    case 4: ((signed char*) p)[e] = (signed char) saturate(v, -128.0, 127.0); break;
                    case 5: ((int*) p)[e] = (int) saturate(v, -2147483648.0, 2147483647.0); break;
                    default: ((unsigned char*) p)[e] = (unsigned char) saturate(v, 0.0, 255.0); break;
                }
            }

            // max/min that return NaN when either side is NaN (as the CPU reductions do)
            __device__ double nan_max(double a, double b) { return (is_nan(a) || is_nan(b)) ? a + b : fmax(a, b); }
            __device__ double nan_min(double a, double b) { return (is_nan(a) || is_nan(b)) ? a + b : fmin(a, b); }

            // tree reductions over one block of BLOCK threads; every thread gets the result
            __device__ double block_sum(double v, double* sh) {
                sh[threadIdx.x] = v;
                __syncthreads();
                for (int s = BLOCK / 2; s > 0; s >>= 1) {
                    if ((int) threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
                    __syncthreads();
                }
                double r = sh[0];
                __syncthreads();
                return r;
            }
            __device__ double block_max(double v, double* sh) {
                sh[threadIdx.x] = v;
                __syncthreads();
                for (int s = BLOCK / 2; s > 0; s >>= 1) {
                    if ((int) threadIdx.x < s) sh[threadIdx.x] = nan_max(sh[threadIdx.x], sh[threadIdx.x + s]);
                    __syncthreads();
                }
                double r = sh[0];
                __syncthreads();
                return r;
            }
            """;

    static final String CONVERT = """
            // dst[Ld(i)] = src[Ls(i)] with dtype conversion (copy, to(), toDevice of strided views)
            extern "C" __global__ void convert(const void* src, Layout Ls, int sdt, void* dst, Layout Ld, int ddt, long long n) {
                long long i = tid();
                if (i < n) store_any(dst, ddt, at(Ld, i), load_any(src, sdt, at(Ls, i)));
            }

            extern "C" __global__ void fill(void* dst, Layout Ld, int ddt, double v, long long n) {
                long long i = tid();
                if (i < n) store_any(dst, ddt, at(Ld, i), v);
            }
            """;

    static final String ELEMENTWISE = """
            // op codes are io.lowbit.tensor.UnaryOp ordinals
            __device__ T unary_op(int op, T x, T c) {
                switch (op) {
                    case 0: return -x;
                    case 1: return exp(x);
                    case 2: return log(x);
                    case 3: return sqrt(x);
                    case 4: return (T) 1 / sqrt(x);
                    case 5: return fabs(x);
                    case 6: return tanh(x);
                    case 7: return (T) 1 / ((T) 1 + exp(-x));
                    case 8: return x / ((T) 1 + exp(-x));
                    case 9: return x > (T) 0 ? x : (T) 0;
                    case 10: return x * x;
                    case 11: return (T) 1 / x;
                    case 12: return x > (T) 0 ? (T) 1 : (x < (T) 0 ? (T) -1 : x);   // keeps 0, -0 and NaN
                    case 13: return rint(x);                                        // half to even
                    case 14: return x + c;
                    case 15: return x * c;
                    case 16: return pow(x, c);
                    case 17: return is_nan(x) ? x : fmax(x, c);
                    default: return is_nan(x) ? x : fmin(x, c);
                }
            }

            extern "C" __global__ void unary(int op, const T* x, Layout Lx, T* out, Layout Lo, double c, long long n) {
                long long i = tid();
                if (i < n) out[at(Lo, i)] = unary_op(op, x[at(Lx, i)], (T) c);
            }

            // op codes are io.lowbit.tensor.BinaryOp ordinals; a and b arrive already broadcast (stride 0)
            extern "C" __global__ void binary(int op, const T* a, Layout La, const T* b, Layout Lb, T* out, long long n) {
                long long i = tid();
                if (i >= n) return;
                T x = a[at(La, i)], y = b[at(Lb, i)], r;
                switch (op) {
                    case 0: r = x + y; break;
                    case 1: r = x - y; break;
                    case 2: r = x * y; break;
                    case 3: r = x / y; break;
                    case 4: r = (T) nan_max(x, y); break;
                    case 5: r = (T) nan_min(x, y); break;
                    default: r = x > y ? (T) 1 : (T) 0; break;
                }
                out[i] = r;
            }

            // dst += alpha * x
            extern "C" __global__ void axpy(double alpha, const T* x, Layout Lx, T* dst, Layout Ld, long long n) {
                long long i = tid();
                if (i < n) { long long e = at(Ld, i); dst[e] = dst[e] + (T) alpha * x[at(Lx, i)]; }
            }
            """;

    static final String REDUCE = """
            // one block per output: out[o] = reduce over r of x[at(K, o) + at(R, r)] (R.offset = 0).
            // op codes are io.lowbit.tensor.ReduceOp ordinals: SUM 0, MEAN 1, MAX 2, MIN 3, ARGMAX 4 (int output)
            extern "C" __global__ void reduce(int op, const T* x, Layout K, Layout R, long long len, void* out) {
                __shared__ double sh[BLOCK];
                __shared__ long long shi[BLOCK];
                long long o = blockIdx.x;
                long long base = at(K, o);
                if (op <= 1) {
                    double s = 0;
                    for (long long r = threadIdx.x; r < len; r += BLOCK) s += (double) x[base + at(R, r)];
                    s = block_sum(s, sh);
                    if (threadIdx.x == 0) ((T*) out)[o] = (T) (op == 1 ? s / (double) len : s);
                } else if (op <= 3) {
                    double m = (double) x[base];
                    for (long long r = threadIdx.x; r < len; r += BLOCK) {
                        double v = (double) x[base + at(R, r)];
                        m = op == 2 ? nan_max(m, v) : nan_min(m, v);
                    }
                    sh[threadIdx.x] = m;
                    __syncthreads();
                    for (int s = BLOCK / 2; s > 0; s >>= 1) {
                        if ((int) threadIdx.x < s) sh[threadIdx.x] = op == 2 ? nan_max(sh[threadIdx.x], sh[threadIdx.x + s]) : nan_min(sh[threadIdx.x], sh[threadIdx.x + s]);
                        __syncthreads();
                    }
                    if (threadIdx.x == 0) ((T*) out)[o] = (T) sh[0];
                } else {
                    // argmax: first maximum; a NaN counts as the maximum (the first NaN wins)
                    double m = (double) x[base];
                    long long best = 0;
                    for (long long r = threadIdx.x; r < len; r += BLOCK) {
                        double v = (double) x[base + at(R, r)];
                        if (v > m || (is_nan(v) && !is_nan(m))) { m = v; best = r; }
                    }
                    sh[threadIdx.x] = m;
                    shi[threadIdx.x] = best;
                    __syncthreads();
                    for (int s = BLOCK / 2; s > 0; s >>= 1) {
                        if ((int) threadIdx.x < s) {
                            double a = sh[threadIdx.x], b = sh[threadIdx.x + s];
                            long long ia = shi[threadIdx.x], ib = shi[threadIdx.x + s];
                            bool takeB = (is_nan(b) && !is_nan(a)) || (is_nan(a) == is_nan(b) && (b > a || (b == a && ib < ia)))
                                         || (is_nan(a) && is_nan(b) && ib < ia);
                            if (takeB) { sh[threadIdx.x] = b; shi[threadIdx.x] = ib; }
                        }
                        __syncthreads();
                    }
                    if (threadIdx.x == 0) ((int*) out)[o] = (int) shi[0];
                }
            }

            // one block per row of the softmax dimension; x and out rows found through their own kept layouts
            extern "C" __global__ void softmax(const T* x, Layout Kx, long long xs, T* out, Layout Ko, long long os,
                                               long long len, int logOut) {
                __shared__ double sh[BLOCK];
                long long o = blockIdx.x;
                long long bx = at(Kx, o), bo = at(Ko, o);
                double m = (double) x[bx];                     // len >= 1: the row's first element starts the max
                for (long long j = threadIdx.x; j < len; j += BLOCK) m = nan_max(m, (double) x[bx + j * xs]);
                m = block_max(m, sh);
                double s = 0;
                for (long long j = threadIdx.x; j < len; j += BLOCK) s += exp((double) x[bx + j * xs] - m);
                s = block_sum(s, sh);
                double ls = log(s);
                for (long long j = threadIdx.x; j < len; j += BLOCK) {
                    double z = (double) x[bx + j * xs] - m;
                    out[bo + j * os] = (T) (logOut ? z - ls : exp(z) / s);
                }
            }
            """;

    static final String INDEX = """
            // x contiguous as [outer, d, inner]; out [outer, n, inner]; ids holds n row numbers in [0, d)
            extern "C" __global__ void index_select(const T* x, const int* ids, T* out, long long outer, long long d,
                                                    long long n, long long inner) {
                long long e = tid();
                if (e >= outer * n * inner) return;
                long long k = e % inner, r = e / inner;
                long long j = r % n, o = r / n;
                out[e] = x[(o * d + ids[j]) * inner + k];
            }

            // out[i] = x at the position of idx element i with its dim coordinate replaced by idx[i].
            // Lxi: idx's shape with x's strides; after = product of idx dims after dim; sd = x's stride of dim
            extern "C" __global__ void gather(const T* x, Layout Lxi, const int* idx, Layout Li, long long dimSize,
                                              long long after, long long sd, T* out, long long n) {
                long long i = tid();
                if (i >= n) return;
                long long p = (i / after) % dimSize;
                out[i] = x[at(Lxi, i) + ((long long) idx[at(Li, i)] - p) * sd];
            }

            // out (contiguous copy of x) += src scattered along dim; Loi: idx's shape with out's strides
            extern "C" __global__ void scatter_add(T* out, Layout Loi, const int* idx, Layout Li, const T* src, Layout Ls,
                                                   long long dimSize, long long after, long long sd, long long n) {
                long long i = tid();
                if (i >= n) return;
                long long p = (i / after) % dimSize;
                atomicAdd(&out[at(Loi, i) + ((long long) idx[at(Li, i)] - p) * sd], src[at(Ls, i)]);
            }

            // dst[idx[i], rest] += src[i, rest]: Lrow is dst's layout without dim 0, sd0 dst's stride of dim 0
            extern "C" __global__ void index_add(T* dst, Layout Lrow, long long sd0, const int* idx, const T* src,
                                                 Layout Ls, long long rowElems, long long n) {
                long long e = tid();
                if (e >= n) return;
                long long i = e / rowElems, k = e - i * rowElems;
                atomicAdd(&dst[at(Lrow, k) + (long long) idx[i] * sd0], src[at(Ls, e)]);
            }
            """;

    static final String LLAMA = """
            // RMSNorm (Zhang & Sennrich 2019, eq. 4): y = x / sqrt(mean(x^2) + eps) * w; one block per row.
            // x, y contiguous [rows, n]; rstd[row] = 1 / sqrt(mean(x^2) + eps) is kept for backward.
            extern "C" __global__ void rms_norm(const T* x, const T* w, T* y, T* rstd, long long n, double eps) {
                __shared__ double sh[BLOCK];
                long long row = blockIdx.x;
                const T* xr = x + row * n;
                double ss = 0;
                for (long long j = threadIdx.x; j < n; j += BLOCK) { double v = (double) xr[j]; ss += v * v; }
                ss = block_sum(ss, sh);
                double r = 1.0 / sqrt(ss / (double) n + eps);
                for (long long j = threadIdx.x; j < n; j += BLOCK) y[row * n + j] = (T) ((double) xr[j] * r * (double) w[j]);
                if (threadIdx.x == 0) rstd[row] = (T) r;
            }

            // Rotary embedding (Su et al. 2021, eq. 34) in the rotate-half pairing (j, j + d/2) LLaMA checkpoints use:
            // angle = pos[row] * theta^(-2j/d); x contiguous [rows, d]; one thread per pair.
            extern "C" __global__ void rope(const T* x, const int* pos, T* y, long long rows, long long d, double theta, int inverse) {
                long long e = tid();
                long long h = d / 2;
                if (e >= rows * h) return;
                long long row = e / h, j = e - row * h;
                double ang = (double) pos[row] * pow(theta, -2.0 * (double) j / (double) d);
                double c = cos(ang), s = inverse ? -sin(ang) : sin(ang);
                double a = (double) x[row * d + j], b = (double) x[row * d + j + h];
                y[row * d + j] = (T) (a * c - b * s);
                y[row * d + j + h] = (T) (b * c + a * s);
            }

            // Cross-entropy per row: loss = logsumexp(z) - z[target]; rows whose target is negative are ignored (loss 0).
            // When grad != 0 also writes dz = scale * (softmax(z) - onehot(target)) (zero rows for ignored targets).
            extern "C" __global__ void cross_entropy(const T* z, const int* target, T* loss, T* grad, long long v, double scale) {
                __shared__ double sh[BLOCK];
                long long row = blockIdx.x;
                const T* zr = z + row * v;
                int t = target[row];
                double m = (double) zr[0];                     // v >= 1
                for (long long j = threadIdx.x; j < v; j += BLOCK) m = nan_max(m, (double) zr[j]);
                m = block_max(m, sh);
                double s = 0;
                for (long long j = threadIdx.x; j < v; j += BLOCK) s += exp((double) zr[j] - m);
                s = block_sum(s, sh);
                if (threadIdx.x == 0) loss[row] = t < 0 ? (T) 0 : (T) (m + log(s) - (double) zr[t]);
                if (grad != 0) {
                    for (long long j = threadIdx.x; j < v; j += BLOCK) {
                        double p = t < 0 ? 0.0 : exp((double) zr[j] - m) / s - (j == t ? 1.0 : 0.0);
                        grad[row * v + j] = (T) (scale * p);
                    }
                }
            }
            """;

    static final String QUANT = """
            // NF4 (QLoRA, Dettmers et al. 2023): w[i] = level[code(i)] * absmax[i / block]; two codes per byte,
            // element 2k in the high nibble (bitsandbytes order).
            __constant__ float NF4_LEVELS[16] = {
                -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
                -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
                0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                0.7229568362236023f, 1.0f };

            extern "C" __global__ void nf4_dequant(const unsigned char* codes, const float* absmax, long long block, T* w, long long n) {
                long long i = tid();
                if (i >= n) return;
                unsigned int byte = codes[i >> 1];
                unsigned int q = (i & 1) ? (byte & 15u) : (byte >> 4);
                w[i] = (T) (NF4_LEVELS[q] * absmax[i / block]);
            }

            // b-bit unsigned integers (1 <= b <= 8) packed LSB-first into a byte stream: element i is bits [i*b, i*b+b).
            // Asymmetric per-group dequantization: w[i] = (q[i] - zero[g]) * scale[g], g = i / group.
            extern "C" __global__ void intb_dequant(const unsigned char* packed, int bits, const float* scale, const float* zero,
                                                    long long group, T* w, long long n) {
                long long i = tid();
                if (i >= n) return;
                long long bit = i * bits;
                unsigned int two = packed[bit >> 3];
                if (((bit & 7) + bits) > 8) two |= ((unsigned int) packed[(bit >> 3) + 1]) << 8;
                unsigned int q = (two >> (bit & 7)) & ((1u << bits) - 1u);
                long long g = i / group;
                w[i] = (T) (((float) q - zero[g]) * scale[g]);
            }

            // Fake quantization with a straight-through estimator (Bengio et al. 2013; as in LSQ/LLM-QAT):
            // q = clamp(rint(x / s) + z, qmin, qmax), y = (q - z) * s; per-group s and z, g = i / group.
            // mask[i] = 1 where rint(x/s)+z fell inside [qmin, qmax] (the STE passes the gradient there), else 0.
            extern "C" __global__ void fake_quant(const T* x, const float* scale, const float* zero, long long group,
                                                  double qmin, double qmax, T* y, T* mask, long long n) {
                long long i = tid();
                if (i >= n) return;
                long long g = i / group;
                double s = (double) scale[g], z = (double) zero[g];
                double q = rint((double) x[i] / s) + z;
                bool inside = q >= qmin && q <= qmax;
                q = q < qmin ? qmin : (q > qmax ? qmax : q);
                y[i] = (T) ((q - z) * s);
                if (mask != 0) mask[i] = inside ? (T) 1 : (T) 0;
            }

            // STE backward: dx = dy where the forward stayed inside the grid, 0 where it clipped
            extern "C" __global__ void fake_quant_backward(const T* dy, const T* mask, T* dx, long long n) {
                long long i = tid();
                if (i < n) dx[i] = dy[i] * mask[i];
            }
            """;
}
