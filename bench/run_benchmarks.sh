#!/usr/bin/env bash
# Runs the speed benchmarks (never tests) and writes their results to bench/results/ (ignored by git).
#
#   bench/run_benchmarks.sh BUILD_DIR [linear_compare.py options...]
#
# 1. BUILD_DIR/bench/coreclean_bench: the Google Benchmark micro-benchmarks (about a minute)
#    -> bench/results/micro-STAMP.json
# 2. bench/linear_compare.py with BUILD_DIR/bench/coreclean_bench_fit: LR and PCA against
#    scikit-learn measured in the same run (full size: 10-20 min on 2 cores)
#    -> bench/results/compare-STAMP.json (+ .log)
# Extra arguments go to linear_compare.py, e.g. a quick smoke run:
#   bench/run_benchmarks.sh build --lr-rows 20000 --lr-classes 20 --pca-rows 20000 --pca-dim 512 --pca-k 64
# Environment: MICRO_ARGS (e.g. "--benchmark_filter=Pca") goes to coreclean_bench; set
# SKIP_MICRO=1 or SKIP_COMPARE=1 to skip a part; PYTHON (default /usr/bin/python3, Debian's,
# which has numpy and scikit-learn). BLAS variables (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS) are passed through unchanged and recorded in the JSON.
#
# Build first, e.g.:
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCORECLEAN_BUILD_TESTS=OFF
#   make -C build-bench -j2 coreclean_bench coreclean_bench_fit
set -euo pipefail

if [[ $# -lt 1 ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
fi
build_dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results="$here/results"
mkdir -p "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
python=${PYTHON:-/usr/bin/python3}

echo "BLAS environment: $(env | grep -E '^(OPENBLAS|OMP_|GOTO)' | tr '\n' ' ' || true)"
echo "load average: $(cat /proc/loadavg)"

if [[ -z "${SKIP_MICRO:-}" ]]; then
  micro="$build_dir/bench/coreclean_bench"
  [[ -x "$micro" ]] || { echo "missing $micro (build target coreclean_bench)" >&2; exit 1; }
  # shellcheck disable=SC2086  # MICRO_ARGS is a word list on purpose
  "$micro" ${MICRO_ARGS:-} \
    --benchmark_out="$results/micro-$stamp.json" --benchmark_out_format=json
fi

if [[ -z "${SKIP_COMPARE:-}" ]]; then
  tool="$build_dir/bench/coreclean_bench_fit"
  [[ -x "$tool" ]] || { echo "missing $tool (build target coreclean_bench_fit)" >&2; exit 1; }
  "$python" "$here/linear_compare.py" --tool "$tool" --out "$results/compare-$stamp.json" "$@" \
    2>&1 | tee "$results/compare-$stamp.log"
fi
echo "results in $results (stamp $stamp)"
