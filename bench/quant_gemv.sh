#!/usr/bin/env bash
# Fused quantized GEMV vs F32 GEMV on W [4096, 11008] (QuantGemvJmh), 1 and 2 threads, then the ratio of
# each format's GEMV rate to f32's at the same thread count (wall time; with 1 thread also CPU time). About 3 minutes.
# Extra arguments go to JMH, e.g. -p threads=2 -p format=f32,int4-g128,nf4-dq
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
mvn -o -q -pl bench -am package -DskipTests   # the jars in bench/target/lib must hold the current kernels
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
csv=$(mktemp --suffix=.csv)
trap 'rm -f "$csv"' EXIT
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp 'bench/target/classes:bench/target/lib/*' \
    org.openjdk.jmh.Main QuantGemvJmh.gemv -rf csv -rff "$csv" "$@" | grep -E '^# [a-z0-9-]+ \[|^Benchmark|^QuantGemvJmh' | awk '!seen[$0]++'
echo
echo "ratio to f32 at the same thread count: GEMVs per second (wall), and with 1 thread GEMVs per CPU second"
echo "of the calling thread (score / callerCpu: what other processes on a shared machine disturb least)"
# CSV columns: Benchmark, Mode, Threads, Samples, Score, Error, Unit, Param: format, Param: shape, Param: threads
awk -F, 'NR > 1 { sub(/\r$/, ""); b = $1; gsub(/"/, "", b); gsub(/"/, "", $8); gsub(/"/, "", $10); f = $8; t = $10; fmts[f] = 1; thr[t] = 1
                  if (b ~ /gemv$/) rate[f "," t] = $5; else if (b ~ /callerCpu$/) cpu[f "," t] = $5 }
         END { for (t in thr) for (f in fmts) if (rate["f32," t] > 0 && (f "," t) in rate) {
                 line = sprintf("  %-10s threads=%s  %8.1f GEMV/s  %5.2fx", f, t, rate[f "," t], rate[f "," t] / rate["f32," t])
                 if (t == 1 && cpu[f "," t] > 0 && cpu["f32," t] > 0)
                   line = line sprintf("   %8.1f GEMV/cpu-s  %5.2fx", rate[f "," t] / cpu[f "," t], (rate[f "," t] / cpu[f "," t]) / (rate["f32," t] / cpu["f32," t]))
                 print line } }' "$csv" | sort
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
