#!/usr/bin/env bash
# `mpirun -np N coreclean build` writes the tree `coreclean build` writes (mpi_build_check
# compare), and `rank` lists the same samples in the same order with the same suggestions.
# Usage: cli_build.sh CORECLEAN MPI_BUILD_CHECK PYTHON WORKDIR PROCESSES
set -euo pipefail
coreclean=$1 check=$2 python=$3 work=$4 processes=$5
rm -rf "$work" && mkdir -p "$work/features"
"$python" - "$work/features" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(1)
n, d, k = 9000, 300, 6
centres = rng.normal(size=(k, d)) * 0.5
y = rng.integers(0, k, n)
x = (centres[y] + rng.normal(size=(n, d)) + 3.0).astype(np.float32)
flipped = rng.random(n) < 0.06
y = np.where(flipped, (y + 1) % k, y)
np.save(f"{sys.argv[1]}/X_train.npy", x)
np.save(f"{sys.argv[1]}/y_train.npy", y.astype(np.int64))
PY
"$coreclean" build --features "$work/features" --out "$work/one.tree" --chunk-size 700
mpirun --oversubscribe -np "$processes" "$coreclean" build --features "$work/features" \
  --out "$work/many.tree" --chunk-size 700 | tee "$work/many.txt"
grep -q "$processes processes" "$work/many.txt"
"$check" compare "$work/one.tree" "$work/many.tree"
"$coreclean" rank --tree "$work/one.tree" --top 500 > "$work/one.csv"
"$coreclean" rank --tree "$work/many.tree" --top 500 > "$work/many.csv"
# The same samples in the same order (the printed scores may differ in a 6th digit).
cmp <(cut -d, -f1,2,6 "$work/one.csv") <(cut -d, -f1,2,6 "$work/many.csv")
# Other commands refuse to run under mpirun.
if mpirun --oversubscribe -np 2 "$coreclean" rank --tree "$work/one.tree" > /dev/null 2>&1; then
  echo "rank under mpirun should be refused" >&2
  exit 1
fi
# A NaN in the last process's share (each process checks only its own rows) ends the whole job
# with exit 2 and the row named.
mkdir -p "$work/bad"
"$python" - "$work/features" "$work/bad" <<'PY'
import sys
import numpy as np
x = np.load(f"{sys.argv[1]}/X_train.npy")
x[8999, 3] = np.nan
np.save(f"{sys.argv[2]}/X_train.npy", x)
np.save(f"{sys.argv[2]}/y_train.npy", np.load(f"{sys.argv[1]}/y_train.npy"))
PY
set +e
mpirun --oversubscribe -np "$processes" "$coreclean" build --features "$work/bad" \
  --out "$work/bad.tree" --chunk-size 700 > "$work/bad.txt" 2>&1
status=$?
set -e
cat "$work/bad.txt"
[ "$status" -eq 2 ] || { echo "expected exit 2, got $status" >&2; exit 1; }
grep -q "non-finite value nan at row 8999, column 3" "$work/bad.txt"
[ ! -e "$work/bad.tree" ]
echo "ok: $processes processes"
