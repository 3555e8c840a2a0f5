# shellcheck shell=bash
# Shared by the slurm prune tests (sourced after cluster.sh): the quick-start prune of
# tests/dist/quick_prune.h (8 samples x 32 tokens, threads = 1, so every run is bitwise
# comparable), a plain reference run, the comparison, and the check helpers.
# start_cluster_with_reference: the cluster (or a skip), then in $SLURM_TEST_DIR: out/ for
# job outputs ($out) and the plain run's output directory ($ref).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LACO_BIN=$(realpath "${LACO_BIN:-$repo/build/release/laco_dist}")
[[ -x $LACO_BIN ]] || { echo "FAIL: no laco_dist at $LACO_BIN (build it or set LACO_BIN)" >&2; exit 1; }
export LACO_BIN LACO_ASSETS="${LACO_ASSETS:-$(cd "$repo/.." && pwd)/shared}"
[[ -d $LACO_ASSETS/models/kjv-16L ]] || { echo "SKIP: $LACO_ASSETS/models/kjv-16L absent (set LACO_ASSETS)"; exit 77; }
config=$repo/configs/quickstart.toml
# Jobs inherit this environment (sbatch/srun --export=ALL).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
finish() {
  if ((failures)); then
    echo "$failures check(s) failed; daemon logs:" >&2
    slurm_log_tails 15
    exit 1
  fi
  echo "PASS"
}

# laco_dist prune options for output directory $1 (then any extra options).
quick_args() { echo "--set output.dir=$1 --set model.threads=1 --set calibration.samples=8 --set calibration.max_tokens=32 --set calibration.batch_size=2 --quiet ${*:2}"; }

# The candidates of laco_report.json without their timings.
candidates() { sed -n '/^  "candidates": \[/,/^  \],/p' "$1/laco_report.json" | grep -v '"seconds":'; }

start_cluster_with_reference() {
  slurm_cluster_start_or_skip
  ((SLURM_TEST_CPUS >= 2)) || { echo "SKIP: the node has $SLURM_TEST_CPUS CPU, the checks need 2"; exit 77; }
  cd "$SLURM_TEST_DIR" || exit 1
  out=$SLURM_TEST_DIR/out
  ref=$SLURM_TEST_DIR/ref
  mkdir -p "$out"
  plain_run "$ref"
}

# An uninterrupted plain run into $1 (more laco_dist options after it).
plain_run() {
  # shellcheck disable=SC2046
  "$LACO_BIN" prune "$config" $(quick_args "$@") >"$1.log" 2>&1 || { echo "FAIL: the plain reference run failed:" >&2; cat "$1.log" >&2; exit 1; }
}

# The checkpoint's files in directory $1, one name a line: everything but laco_dist's run files.
checkpoint_files() {
  local f
  for f in "$1"/* "$1"/.[!.]*; do
    [[ -e $f ]] || continue
    case ${f##*/} in
      laco_report.json | laco_state.json | profile.h5 | profile.svg | .laco.lock) ;;
      *) echo "${f##*/}" ;;
    esac
  done
}

# $2 (what) in directory $1 has the reference's checkpoint files, byte for byte (the same
# names: weights or shards, index, config.json, copied tokenizer files), and its candidates.
expect_same_output() {
  local f want got
  want=$(checkpoint_files "$ref") got=$(checkpoint_files "$1")
  grep -qx config.json <<<"$want" || { fail "$2: the reference has no config.json"; return; }
  [[ $got == "$want" ]] || { fail "$2: checkpoint files [$(paste -sd' ' <<<"$got")] are not the plain run's [$(paste -sd' ' <<<"$want")]"; return; }
  for f in $want; do
    cmp -s "$ref/$f" "$1/$f" || { fail "$2: $f differs from the plain run"; return; }
  done
  [[ -n $(candidates "$ref") ]] || { fail "$2: the reference report has no candidates"; return; }
  diff <(candidates "$ref") <(candidates "$1") >/dev/null || { fail "$2: laco_report.json candidates differ from the plain run"; return; }
  ok "$2: checkpoint ($(wc -l <<<"$want") files) and candidates identical to the plain run"
}

# Waits up to $2 s for file $1.
wait_file() {
  local deadline=$((SECONDS + $2))
  until [[ -e $1 ]]; do ((SECONDS < deadline)) || return 1; sleep 0.1; done
}

# submit SCRIPT [sbatch options...] -- [script arguments...]: `sbatch --parsable` of
# slurm/SCRIPT, its output appended to $out/<script>-<job id>.out; prints the job id.
submit() {
  local script=$1 opts=()
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  sbatch --parsable --open-mode=append --output="$out/${script%.sbatch}-%j.out" "${opts[@]}" "$repo/slurm/$script" "$@"
}

# Checks that job $1 completed after $2 restarts; $3 names the case.
expect_completed() {
  local state
  state=$(slurm_wait_job "$1" "${4:-180}") || state="timeout"
  if [[ $state != "COMPLETED 0:0" ]]; then
    fail "$3: job $1 ended '$state', expected 'COMPLETED 0:0'; its output:"; cat "$out"/*-"$1".out >&2; return 1
  fi
  local restarts
  restarts=$(slurm_job_field "$1" Restarts)
  [[ $restarts == "$2" ]] || { fail "$3: job $1 restarted $restarts time(s), expected $2"; return 1; }
  ok "$3: job $1 $state after $restarts restart(s)"
}
