#!/usr/bin/env bash
# Requeue, time limits and stop signals through slurm/prune_cpu.sbatch on a real one-node
# Slurm (issue 13 items 2b-2d): every interrupted job ends with the checkpoint and report
# candidates of an uninterrupted plain run, byte for byte.
#  (b) `scontrol requeue` in the middle of the run, and before its first round;
#  (c) the time limit: `scancel --signal=USR1` (what --signal=USR1@N sends) makes every rank
#      stop at the end of its round, laco_dist exits 3 and the job requeues itself; and one
#      real time limit (--time=1 --signal=USR1@30);
#  (d) `scancel --signal=TERM` with LACO_REQUEUE=0: the job ends with exit 3 (FAILED 3:0),
#      and resubmitting it continues the saved state; a plain `scancel` ends the job
#      (CANCELLED, no requeue) and a resubmission continues too.
# Rounds are slowed (LACO_TEST_ROUND_DELAY_MS) so that signals land in the middle of a run.
# Exit 0 passed, 1 failed, 77 skipped (no Slurm or assets; a failure under CI=true).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/slurm/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/slurm/prune_jobs.sh
source "$here/prune_jobs.sh"
start_cluster_with_reference

# Submits prune_cpu.sbatch (its defaults: 2 ranks x 1 CPU) into $1 with rounds slowed to $2 ms (more sbatch
# options after); prints the job id.
submit_slow() {
  local d=$1 delay=$2
  shift 2
  # shellcheck disable=SC2046
  LACO_TEST_ROUND_DELAY_MS=$delay submit prune_cpu.sbatch "$@" -- "$config" $(quick_args "$d")
}

# (b) scontrol requeue once the first round's state is saved.
d=$SLURM_TEST_DIR/requeue_mid
id=$(submit_slow "$d" 500)
if wait_file "$d/laco_state.json" 60; then
  scontrol requeue "$id"
  expect_completed "$id" 1 "scontrol requeue mid-run" && expect_same_output "$d" "scontrol requeue mid-run"
  grep -q "continuing\|resuming at" "$out/prune_cpu-$id.out" || fail "requeue mid-run: the restarted job did not resume"
else
  fail "requeue mid-run: no laco_state.json after 60 s"
fi

# (b) scontrol requeue once laco_dist claimed output.dir (its lock file), before its first
# round completes (the reference pass is followed by a 1 s delay): the restart finds only
# the files of a run that never completed a round and starts from the beginning.
d=$SLURM_TEST_DIR/requeue_early
id=$(submit_slow "$d" 1000)
if wait_file "$d/.laco.lock" 60; then
  scontrol requeue "$id"
  [[ ! -e $d/laco_state.json ]] || fail "requeue before the first round: a round had already completed (test too slow?)"
  expect_completed "$id" 1 "scontrol requeue before the first round" && expect_same_output "$d" "scontrol requeue before the first round"
  n=$(grep -c "holds no completed round; starting from the beginning" "$out/prune_cpu-$id.out" || true)
  ((n == 2)) || fail "requeue before the first round: expected both runs to start from the beginning, $n did"
else
  fail "requeue before the first round: no .laco.lock after 60 s"
fi

# (c) the time-limit signal, sent by hand: stop at the round end, exit 3, self-requeue.
d=$SLURM_TEST_DIR/usr1
id=$(submit_slow "$d" 500)
if wait_file "$d/laco_state.json" 60; then
  scancel --signal=USR1 "$id"
  expect_completed "$id" 1 "scancel --signal=USR1" && expect_same_output "$d" "scancel --signal=USR1"
  log=$out/prune_cpu-$id.out
  grep -q "interrupted: SIGUSR1 received: stopped after round" "$log" || fail "scancel --signal=USR1: no 'interrupted' line in $log"
  grep -q "requeueing job $id" "$log" || fail "scancel --signal=USR1: the script did not requeue the job"
else
  fail "scancel --signal=USR1: no laco_state.json after 60 s"
fi

# (c) a real time limit: 1 minute, SIGUSR1 30 s before it (Slurm may send it up to 60 s
# early, so anywhere in the run, also before its first round). Once the job requeued
# itself its limit is lifted, so the next run completes.
d=$SLURM_TEST_DIR/time_limit
id=$(submit_slow "$d" 2500 --time=1 --signal=USR1@30)
deadline=$((SECONDS + 120))
until [[ $(slurm_job_field "$id" Restarts) -ge 1 ]] || ((SECONDS > deadline)); do sleep 0.2; done
scontrol update JobId="$id" TimeLimit=UNLIMITED
restarts=$(slurm_job_field "$id" Restarts)
if ((restarts >= 1)); then
  expect_completed "$id" "$restarts" "--time=1 --signal=USR1@30" 240 && expect_same_output "$d" "--time=1 --signal=USR1@30"
  grep -q "interrupted: SIGUSR1 received" "$out/prune_cpu-$id.out" || fail "time limit: the job was not stopped by SIGUSR1"
else
  fail "time limit: job $id did not requeue itself within 120 s (state $(slurm_job_field "$id" JobState))"
fi

# (d) scancel --signal=TERM with LACO_REQUEUE=0: exit 3, the job ends; a resubmission continues.
d=$SLURM_TEST_DIR/term
id=$(LACO_REQUEUE=0 submit_slow "$d" 500)
if wait_file "$d/laco_state.json" 60; then
  scancel --signal=TERM "$id"
  state=$(slurm_wait_job "$id" 60) || state=timeout
  [[ $state == "FAILED 3:0" ]] || fail "scancel --signal=TERM, LACO_REQUEUE=0: job $id ended '$state', expected 'FAILED 3:0'"
  grep -q "interrupted: SIGTERM received: stopped after round" "$out/prune_cpu-$id.out" || fail "scancel --signal=TERM: no 'interrupted' line"
  [[ ! -e $d/config.json ]] || fail "scancel --signal=TERM: the stopped job wrote a checkpoint"
  id=$(submit_slow "$d" 0)
  expect_completed "$id" 0 "resubmitted after scancel --signal=TERM" && expect_same_output "$d" "resubmitted after scancel --signal=TERM"
else
  fail "scancel --signal=TERM: no laco_state.json after 60 s"
fi

# scancel: the job ends CANCELLED (the batch shell is signalled too: no requeue); the state
# saved by then is continued by a resubmission.
d=$SLURM_TEST_DIR/cancel
id=$(submit_slow "$d" 500)
if wait_file "$d/laco_state.json" 60; then
  scancel "$id"
  state=$(slurm_wait_job "$id" 60) || state=timeout
  [[ $state == CANCELLED* ]] || fail "scancel: job $id ended '$state', expected CANCELLED"
  [[ $(slurm_job_field "$id" Restarts) == 0 ]] || fail "scancel: the cancelled job was requeued"
  id=$(submit_slow "$d" 0)
  expect_completed "$id" 0 "resubmitted after scancel" && expect_same_output "$d" "resubmitted after scancel"
else
  fail "scancel: no laco_state.json after 60 s"
fi
finish
