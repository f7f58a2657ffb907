#!/usr/bin/python3
"""Times OpenBLAS SGEMM (through Debian's numpy) on the same cases as io.lowbit.tensor.cpu.SgemmBench.

Usage: /usr/bin/python3 bench/openblas_sgemm.py [sizes=256,512,1024,2048] [threads=1,2] [llama] [shape=m,n,k,ta,tb]

Prints which BLAS library, version and kernel core type ran (threadpoolctl), then one line per case in
the same format as SgemmBench:
  sgemm n=<n> threads=<t> gflops=<x>
  sgemm m=<m> n=<n> k=<k> ta=<0|1> tb=<0|1> threads=<t> gflops=<x>
Each case is warmed up for ~1 s, then timed in 25 repetitions of >= 0.05 s; the best repetition counts
(on a shared machine the best short window is the one least disturbed by other processes).
Run it with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset so OpenBLAS picks its own (AVX-512) kernel.
"""
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

# keep in sync with SgemmBench.LLAMA_SHAPES: {m, n, k, transA, transB}
LLAMA_SHAPES = [
    (2048, 688, 256, 0, 0), (2048, 256, 688, 0, 0), (2048, 2048, 256, 0, 0),
    (2048, 256, 688, 0, 1), (256, 688, 2048, 1, 0),
    (2048, 688, 256, 0, 1), (688, 256, 2048, 1, 0),
    (2048, 256, 2048, 0, 1), (256, 2048, 2048, 1, 0),
]
WARMUP, REP, REPS = 1.0, 0.05, 25


def gflops(m, n, k, ta, tb, threads):
    rng = np.random.default_rng(1234)
    # stored shapes as in SgemmBench; a transposed operand is passed as a transposed view (no copy),
    # which numpy hands to sgemm as a transposed operand
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    opa, opb = (a.T if ta else a), (b.T if tb else b)
    c = np.empty((m, n), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < WARMUP:
            np.matmul(opa, opb, out=c)
        best = 0.0
        for _ in range(REPS):
            calls, t0 = 0, time.perf_counter()
            while True:
                np.matmul(opa, opb, out=c)
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= REP:
                    break
            best = max(best, 2.0 * m * n * k * calls / dt / 1e9)
    return best


def main(argv):
    sizes, threads, llama, shape = [256, 512, 1024, 2048], [1, 2], False, None
    for arg in argv:
        if arg.startswith("sizes="):
            sizes = [int(x) for x in arg[6:].split(",") if x]
        elif arg.startswith("threads="):
            threads = [int(x) for x in arg[8:].split(",") if x]
        elif arg.startswith("shape="):
            shape = [int(x) for x in arg[6:].split(",")]
            if len(shape) != 5:
                raise SystemExit(f"shape= needs m,n,k,ta,tb, got {arg}")
        elif arg == "llama":
            llama = True
        else:
            raise SystemExit(f"unknown argument {arg} (sizes=a,b threads=a,b llama)")
    np.matmul(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32))  # load the BLAS
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        raise SystemExit("no BLAS found by threadpoolctl; install libopenblas0-pthread")
    for info in blas:
        print(f"# blas: {info.get('internal_api')} {info.get('version')} core={info.get('architecture')} "
              f"threading={info.get('threading_layer')} lib={info.get('filepath')}")
    print(f"# numpy {np.__version__}")
    sys.stdout.flush()
    if shape:
        m, n, k, ta, tb = shape
        for t in threads:
            print(f"sgemm m={m} n={n} k={k} ta={ta} tb={tb} threads={t} gflops={gflops(m, n, k, ta, tb, t):.1f}", flush=True)
        return
    for t in threads:
        for n in sizes:
            print(f"sgemm n={n} threads={t} gflops={gflops(n, n, n, 0, 0, t):.1f}", flush=True)
    if llama:
        for t in threads:
            for (m, n, k, ta, tb) in LLAMA_SHAPES:
                g = gflops(m, n, k, ta, tb, t)
                print(f"sgemm m={m} n={n} k={k} ta={ta} tb={tb} threads={t} gflops={g:.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
