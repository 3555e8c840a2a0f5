#!/usr/bin/env bash
# Strong scaling of `laco_dist prune` over ranks (issue 5 item 9): the same prune of
# kjv-16L with -n 1 and with -n 2 (W = 2 candidate groups, model.threads = 1 per rank),
# on a config that evaluates 14 candidates (C = 2, threshold 0.99 so almost every
# candidate is rejected and both groups stay busy; SAMPLES=128 calibration samples of 64
# tokens, the usual calibration size of pruning work, so that the pruning rather than the
# ~0.7 s of process start-up, the same for -n 1 and -n 2, dominates the wall time). Prints
# both wall times (best of REPEATS, the two alternating), the in-run times (from
# profile.h5, without process start-up), both speed-ups (target >= 1.6x on an otherwise
# idle 2-core machine), each repeat's work inflation and each rank's phase times from
# profile.h5 (via `laco_dist report`).
#   bench/scaling.sh                      # uses build/release/laco_dist
#   LACO_BIN=build-x/laco_dist REPEATS=3 bench/scaling.sh [extra --set k=v ...]
#   bench/scaling.sh --set parallel.candidate_width=1   # W = 1 x S = 2 instead
# Environment: LACO_BIN, LACO_ASSETS (default ../shared), REPEATS (best of, default 5),
# SAMPLES (calibration samples, default 128),
# BENCH_OUT (scratch directory, default a fresh mktemp -d, removed at the end).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LACO_BIN:-$repo/build/release/laco_dist}"
[[ -x "$bin" ]] || { echo "$0: laco_dist not found at $bin (set LACO_BIN)" >&2; exit 2; }
export LACO_ASSETS="${LACO_ASSETS:-$repo/../shared}"
[[ -d "$LACO_ASSETS/models/kjv-16L" ]] || { echo "$0: $LACO_ASSETS/models/kjv-16L not found (set LACO_ASSETS)" >&2; exit 2; }
repeats="${REPEATS:-5}"
samples="${SAMPLES:-128}"
if [[ -n "${BENCH_OUT:-}" ]]; then
  scratch="$BENCH_OUT"
  mkdir -p "$scratch"
else
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
fi

cores="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)"
mpi=(mpirun --bind-to none --mca pml ob1)  # one node: skip the UCX probe (MPI_Init 0.24 -> 0.03 s)
if (( cores < 2 )); then mpi+=(--oversubscribe); fi
if [[ "$(id -u)" == 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpi+=(--allow-run-as-root)
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpi+=(-x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS -x LACO_ASSETS)

settings=(--set model.threads=1 --set laco.merge_layers=2 --set laco.lowest_layer=1
          --set laco.threshold=0.99 --set calibration.samples="$samples" --set calibration.max_tokens=64
          --set calibration.batch_size=4 --set laco.early_reject=false --quiet)
extra=("$@")  # the caller's --set overrides come last, so they win

now() { date +%s.%N; }

# One timed prune: run RANKS W -> "wall in-run work" seconds (in-run: the slowest rank's
# elapsed time from profile.h5, i.e. without process start-up and MPI_Init; work: the
# compute phases reference, cache and candidate summed over the ranks); the output and its
# `laco_dist report` (report.txt) stay in $scratch/nRANKS.
run() {
  local ranks="$1" width="$2" t0 t1 inrun work
  t0="$(now)"
  "${mpi[@]}" -n "$ranks" "$bin" prune "$repo/configs/quickstart.toml" "${settings[@]}" \
    --set "parallel.candidate_width=$width" --set "output.dir=$scratch/n$ranks" "${extra[@]}" >/dev/null
  t1="$(now)"
  "$bin" report "$scratch/n$ranks/profile.h5" --svg "$scratch/n$ranks/profile.svg" >"$scratch/n$ranks/report.txt"
  inrun="$(awk '/^elapsed / { m = 0; for (i = 2; i <= NF; ++i) if ($i > m) m = $i; print m }' "$scratch/n$ranks/report.txt")"
  work="$(awk '/^(reference|cache|candidate) / { for (i = 2; i <= NF; ++i) s += $i } END { print s }' "$scratch/n$ranks/report.txt")"
  echo "$(echo "$t1 - $t0" | bc -l) $inrun $work"
}
min() { if [[ -z "$1" ]] || (( $(echo "$2 < $1" | bc -l) )); then echo "$2"; else echo "$1"; fi; }

candidates() {
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["candidates"]; print(len(c), sum(x["accepted"] for x in c))' "$1/laco_report.json"
}

# The per-rank rows cache, candidate, busy and elapsed of the last run's phase table.
busy() {
  awk '/^(cache|candidate|busy|elapsed) /' "$1/report.txt"
}

echo "laco_dist scaling: kjv-16L, C=2, T=0.99, $samples samples x 64 tokens, model.threads=1, best of $repeats"
echo "machine: $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
# -n 1 and -n 2 alternate, so that both see the same spells of a noisy (shared) host.
t1="" t2="" r1="" r2=""
for ((i = 0; i < repeats; ++i)); do
  read -r a ia wa <<<"$(run 1 1)"
  read -r b ib wb <<<"$(run 2 2)"
  # Work inflation: the same forwards took this much more CPU time on two ranks at once
  # than on one (1.00: the two cores ran as fast as one alone; a busy host shows here).
  printf 'repeat %d: -n 1 %6.2f s (in-run %6.2f s), -n 2 %6.2f s (in-run %6.2f s), work inflation %.2fx\n' \
    "$((i + 1))" "$a" "$ia" "$b" "$ib" "$(echo "$wb / $wa" | bc -l)"
  t1="$(min "$t1" "$a")" t2="$(min "$t2" "$b")" r1="$(min "$r1" "$ia")" r2="$(min "$r2" "$ib")"
done
read -r n1 a1 <<<"$(candidates "$scratch/n1")"
read -r n2 a2 <<<"$(candidates "$scratch/n2")"
same="no"
if cmp -s "$scratch/n1/model.safetensors" "$scratch/n2/model.safetensors"; then same="yes"; fi
printf '\n-n 1 (W=1): %8.2f s   %s candidates, %s accepted\n' "$t1" "$n1" "$a1"
printf -- '-n 2 (W=2 unless overridden): %8.2f s   %s candidates, %s accepted\n' "$t2" "$n2" "$a2"
printf 'speed-up:   %8.2fx  end to end (target >= 1.60x on an idle 2-core machine)\n' "$(echo "$t1 / $t2" | bc -l)"
printf 'in-run:     %8.2f s -> %.2f s, %.2fx  (without process start-up and MPI_Init)\n' "$r1" "$r2" "$(echo "$r1 / $r2" | bc -l)"
echo "checkpoints byte-identical: $same"
echo
echo "per-rank seconds from profile.h5, -n 1:"
busy "$scratch/n1"
echo "per-rank seconds from profile.h5, -n 2:"
busy "$scratch/n2"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
