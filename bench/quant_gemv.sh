#!/usr/bin/env bash
# Fused quantized GEMV vs F32 GEMV on W [4096, 11008] (QuantGemvJmh), 1 and 2 threads, then the ratio of
# each format's GEMV rate to f32's at the same thread count. About 2.5 minutes.
# Extra arguments go to JMH, e.g. -p threads=2 -p format=f32,int4-g128,nf4-dq
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
mvn -o -q -pl bench -am package -DskipTests   # the jars in bench/target/lib must hold the current kernels
csv=$(mktemp --suffix=.csv)
trap 'rm -f "$csv"' EXIT
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp 'bench/target/classes:bench/target/lib/*' \
    org.openjdk.jmh.Main QuantGemvJmh.gemv -rf csv -rff "$csv" "$@" | grep -E '^# [a-z0-9-]+ \[|^Benchmark|^QuantGemvJmh' | awk '!seen[$0]++'
echo
echo "ratio to f32 (GEMVs per second, same thread count):"
# CSV columns: Benchmark, Mode, Threads, Samples, Score, Error, Unit, Param: format, Param: shape, Param: threads
awk -F, 'NR > 1 && $1 == "\"io.lowbit.bench.QuantGemvJmh.gemv\"" {
           gsub(/"/, "", $8); gsub(/"/, "", $10); f = $8; t = $10; rate[f "," t] = $5; fmts[f] = 1; thr[t] = 1 }
         END { for (t in thr) for (f in fmts) if (rate["f32," t] > 0 && (f "," t) in rate)
                 printf "  %-10s threads=%s  %8.1f GEMV/s  %5.2fx\n", f, t, rate[f "," t], rate[f "," t] / rate["f32," t] }' "$csv" | sort
