// Runs lowbit's CUDA C kernels on the host, for tests on machines without a GPU: each block's 256
// threads are real std::threads (so __syncthreads is a barrier and __shared__ arrays are shared),
// blocks run one after another. Only the CUDA features KernelSource uses are provided.
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdarg>
#include <immintrin.h>
#include <initializer_list>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __constant__
#define __shared__ static

struct EmuDim { unsigned int x, y, z; };
thread_local EmuDim threadIdx;
EmuDim blockIdx;
const EmuDim blockDim = {256, 1, 1};
std::barrier<>* emuBarrier;
std::mutex emuAtomic;

inline void __syncthreads() { emuBarrier->arrive_and_wait(); }
inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float atomicAdd(float* p, float v) { std::lock_guard<std::mutex> g(emuAtomic); float o = *p; *p = o + v; return o; }
inline double atomicAdd(double* p, double v) { std::lock_guard<std::mutex> g(emuAtomic); double o = *p; *p = o + v; return o; }
using std::cos; using std::exp; using std::fabs; using std::fmax; using std::fmin; using std::isnan; using std::log;
using std::pow; using std::rint; using std::sin; using std::sqrt; using std::tanh;

// runs body() on `blocks` blocks of 256 threads
template <class F> void emuLaunch(long long blocks, F body) {
    for (long long b = 0; b < blocks; b++) {
        blockIdx = {(unsigned int) b, 0, 0};
        std::barrier<> bar(256);
        emuBarrier = &bar;
        std::vector<std::thread> ts;
        ts.reserve(256);
        for (unsigned int t = 0; t < 256; t++) ts.emplace_back([&body, t] { threadIdx = {t, 0, 0}; body(); });
        for (auto& th : ts) th.join();
    }
}
