#!/usr/bin/env bash
# Starts laco_dist under Open MPI's mpirun with the flags a small shared machine needs:
#   launch/mpirun.sh -n N CONFIG.toml [laco_dist prune options...]
#   launch/mpirun.sh -n 4 configs/quickstart.toml --set output.dir=out/q4
# Adds --bind-to none (the default core binding would pin every LibTorch thread of a rank
# to one core), --oversubscribe when N exceeds this machine's cores, the root-safe
# settings when run as root (containers), and exports the thread variables to every rank:
# OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=max(1, cores / N) unless already set. Without
# InfiniBand (/sys/class/infiniband empty) it also selects Open MPI's ob1 messaging layer,
# which Open MPI ends up using anyway after probing UCX for 0.2 s per rank start (unless
# OMPI_MCA_pml is set).
# Binary: $LACO_BIN, else build/release/laco_dist of this checkout. Extra mpirun flags
# (e.g. --hostfile hosts) go in $LACO_MPIRUN_ARGS. LACO_LAUNCH_DRY=1 only prints the command.
set -euo pipefail

usage() {
  echo "usage: $0 -n N CONFIG.toml [laco_dist options...]" >&2
  exit 2
}

[[ $# -ge 3 && "$1" == "-n" ]] || usage
ranks="$2"
shift 2
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "$0: -n expects a positive integer, got '$ranks'" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LACO_BIN:-$repo/build/release/laco_dist}"
if [[ ! -x "$bin" ]]; then
  echo "$0: laco_dist not found at $bin (build it with: cmake --preset release && cmake --build --preset release, or set LACO_BIN)" >&2
  exit 2
fi
command -v mpirun >/dev/null || { echo "$0: mpirun not found on PATH (install Open MPI)" >&2; exit 2; }

cores="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)"  # nproc obeys OMP_NUM_THREADS
args=(--bind-to none -n "$ranks")
if (( ranks > cores )); then
  args+=(--oversubscribe)
fi
if [[ "$(id -u)" == 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  args+=(--allow-run-as-root)
fi

if [[ -z "${OMPI_MCA_pml:-}" && -z "$(ls -A /sys/class/infiniband 2>/dev/null)" ]]; then
  args+=(--mca pml ob1)
fi

per_rank=$(( cores / ranks ))
(( per_rank >= 1 )) || per_rank=1
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$per_rank}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-$OMP_NUM_THREADS}"
for var in OPENBLAS_NUM_THREADS OMP_NUM_THREADS MKL_NUM_THREADS LACO_ASSETS; do
  if [[ -n "${!var:-}" ]]; then args+=(-x "$var"); fi
done

extra=()
if [[ -n "${LACO_MPIRUN_ARGS:-}" ]]; then
  read -r -a extra <<<"$LACO_MPIRUN_ARGS"
fi

cmd=(mpirun "${args[@]}" "${extra[@]}" "$bin" "$@")
echo "+ ${cmd[*]}" >&2
if [[ "${LACO_LAUNCH_DRY:-0}" == 1 ]]; then
  exit 0
fi
exec "${cmd[@]}"
