#!/usr/bin/env bash
# Our Sgemm vs OpenBLAS (Debian numpy) on the same cases, case by case in one run, with the ratio.
#   bench/compare_sgemm.sh [sizes=256,512,1024,2048] [threads=1,2] [llama|nollama]
# Needs: JDK 25 (JAVA_HOME), tensor compiled (mvn -o -q -pl tensor -am compile), /usr/bin/python3 with numpy
# and libopenblas0-pthread. Each case runs ours and then OpenBLAS back to back (alternating processes),
# so both see the same machine load; the machine is shared, so run it several times and keep quiet runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
CP="$root/tensor/target/classes"
[ -d "$CP/io/lowbit/tensor/cpu" ] || { echo "compile first: mvn -o -q -pl tensor -am compile" >&2; exit 1; }
sizes="256,512,1024,2048"; threads="1,2"; llama=1
for arg in "$@"; do
  case "$arg" in
    sizes=*) sizes="${arg#sizes=}" ;;
    threads=*) threads="${arg#threads=}" ;;
    llama) llama=1 ;;
    nollama) llama=0 ;;
    *) echo "unknown argument $arg (sizes=a,b threads=a,b llama|nollama)" >&2; exit 2 ;;
  esac
done
ours() { "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss16m -cp "$CP" io.lowbit.tensor.cpu.SgemmBench "$@" 2>/dev/null | grep '^sgemm'; }
# OpenBLAS must pick its own kernel: drop the core-type and L2 overrides for this command only
blas() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/openblas_sgemm.py" "$@"; }
blas sizes= threads=1 | grep '^#'
gf() { sed -n 's/.*gflops=\([0-9.]*\).*/\1/p'; }
row() { # label, ours-args..., -- blas-args...
  local label="$1"; shift
  local o b
  o=$(ours "$@" | gf); b=$(blas "$@" | grep '^sgemm' | gf)
  printf "%-44s ours=%7.1f openblas=%7.1f ratio=%.2f\n" "$label" "$o" "$b" "$(echo "$o / $b" | bc -l)"
}
IFS=, read -ra TS <<< "$threads"
IFS=, read -ra NS <<< "$sizes"
for t in "${TS[@]}"; do
  for n in "${NS[@]}"; do row "n=$n threads=$t" "sizes=$n" "threads=$t"; done
  if [ "$llama" = 1 ]; then
    for s in 2048,688,256,0,0 2048,256,688,0,0 2048,2048,256,0,0 2048,256,688,0,1 256,688,2048,1,0 \
             2048,688,256,0,1 688,256,2048,1,0 2048,256,2048,0,1 256,2048,2048,1,0; do
      IFS=, read -r m n k ta tb <<< "$s"
      row "m=$m n=$n k=$k ta=$ta tb=$tb threads=$t" "shape=$s" "threads=$t"
    done
  fi
done
