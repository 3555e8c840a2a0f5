#!/usr/bin/env bash
# Smoke test of the throw-away Slurm cluster (cluster.sh) and of laco_dist under srun + PMIx.
# Exit 0: passed, 77: skipped (no Slurm/munge, not root, fewer than 2 CPUs; a failure under CI=true).
# About 17 s once the daemons are up (they take under 1 s): the requeue check takes ~6 s,
# each pmix launch of laco_dist ~2 s (MPI_Init).
#
# Observations (Debian 12: Slurm 22.05.8, Open MPI 4.1.4, PMIx 4.2.2, 2-CPU VM, no InfiniBand):
# - srun --mpi=pmix (or pmix_v4, the same plugin) joins the tasks into one Open MPI world;
#   real collectives (tests/dist_mpi_collectives) pass with 2 ranks. Open MPI picks pml ob1
#   (no UCX here) and btl vader with single_copy_mechanism=cma by default: neither
#   OMPI_MCA_pml=ob1 nor OMPI_MCA_btl_vader_single_copy_mechanism=none is needed here; we
#   set OMPI_MCA_pml=ob1 anyway, as the ctest environment does. Open MPI as root needs
#   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1. One pmix srun of
#   laco_dist --version takes about 1.9 s (MPI_Init).
# - srun --mpi=none -n 2 laco_dist: exit 2, "... but MPI sees a world of 1 rank ...".
# - Affinity (task/affinity): srun -n 2 --cpus-per-task=1 --cpu-bind=cores puts each task on
#   its own core (Cpus_allowed_list 0 and 1); a plain srun -n 2 binds the same way.
# - sbatch -n 2 --cpus-per-task=1: a plain srun in the script runs 2 tasks, one core each.
# - sbatch -n 1 --cpus-per-task=2: a plain srun does NOT inherit --cpus-per-task (Slurm 22.05:
#   with --cpu-bind=cores the task gets 1 CPU, and srun -n 2 runs 2 tasks) although
#   SLURM_CPUS_PER_TASK=2 is in the environment; SRUN_CPUS_PER_TASK=2 (or srun -c 2) gives
#   the task both CPUs. Without --cpu-bind the plain srun's task is left unbound (0-1).
# - scontrol requeue of a running batch job: RUNNING again after about 6-7 s (cred_expire=5).
#   The output file is truncated on each start unless sbatch --open-mode=append.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster.sh"
LACO_BIN=${LACO_BIN:-$here/../../build/release/laco_dist}
[[ -x $LACO_BIN ]] || { echo "FAIL: no laco_dist at $LACO_BIN (build it or set LACO_BIN)" >&2; exit 1; }
LACO_BIN=$(realpath "$LACO_BIN")

t_start=$SECONDS
slurm_cluster_start_or_skip
if ((SLURM_TEST_CPUS < 2)); then echo "SKIP: the node has $SLURM_TEST_CPUS CPU, the checks need 2"; exit 77; fi
t_up=$SECONDS
# Jobs inherit this environment (sbatch/srun default --export=ALL).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OPENBLAS_NUM_THREADS=1
cd "$SLURM_TEST_DIR"   # sbatch runs the job in the submitting directory; outputs land here
out=$SLURM_TEST_DIR/out
mkdir -p "$out"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# 1. A batch job runs and writes its output.
id=$(sbatch --parsable --output="$out/hostname-%j.out" --wrap hostname)
state=$(slurm_wait_job "$id" 30) || state="timeout"
if [[ $state != "COMPLETED 0:0" ]]; then
  fail "sbatch --wrap hostname: job $id ended '$state', expected 'COMPLETED 0:0'"
elif ! grep -qx "$SLURM_TEST_NODE" "$out/hostname-$id.out"; then
  fail "sbatch --wrap hostname: output '$(cat "$out/hostname-$id.out")' is not the node name $SLURM_TEST_NODE"
else
  ok "sbatch job $id: $state on $SLURM_TEST_NODE"
fi

# 2. srun --mpi=pmix joins 2 tasks in one MPI world (laco_dist refuses 2 tasks in a world of 1).
if log=$(timeout 60 salloc -n 2 srun --mpi=pmix "$LACO_BIN" --version 2>&1); then
  ok "salloc -n 2 srun --mpi=pmix laco_dist --version"
else
  fail "salloc -n 2 srun --mpi=pmix laco_dist --version exited $?: $log"
fi
cat >"$out/pmix.sbatch" <<EOF
#!/bin/bash
srun --mpi=pmix "$LACO_BIN" --version
EOF
id=$(sbatch --parsable -n 2 --output="$out/pmix-%j.out" "$out/pmix.sbatch")
state=$(slurm_wait_job "$id" 60) || state="timeout"
if [[ $state == "COMPLETED 0:0" ]] && grep -q '^laco_dist ' "$out/pmix-$id.out"; then
  ok "sbatch -n 2: srun --mpi=pmix laco_dist --version"
else
  fail "sbatch -n 2 with srun --mpi=pmix laco_dist --version: job $id '$state', output: $(cat "$out/pmix-$id.out")"
fi
rc=0; log=$(timeout 60 srun --mpi=none -n 2 "$LACO_BIN" --version 2>&1) || rc=$?
if [[ $rc == 2 && $log == *"MPI sees a world of 1 rank"* ]]; then
  ok "srun --mpi=none -n 2 laco_dist refused (exit 2)"
else
  fail "srun --mpi=none -n 2 laco_dist: exit $rc (expected 2 and 'MPI sees a world of 1 rank'): $log"
fi

# 3. CPU affinity: each task on its own core.
cpus() { sort -u | tr '\n' ' ' | sed 's/ $//'; }
got=$(timeout 30 srun -n 2 --cpus-per-task=1 --cpu-bind=cores \
  bash -c 'grep Cpus_allowed_list /proc/self/status | cut -f2' | cpus) || true
if [[ $got == "0 1" ]]; then ok "srun --cpu-bind=cores: tasks on CPUs $got"; else fail "srun -n 2 --cpu-bind=cores: CPU lists '$got', expected '0 1'"; fi
# ... and in a batch job: plain srun (-n 2 -c 1 from sbatch), then -c 2 with SRUN_CPUS_PER_TASK.
cat >"$out/affinity.sbatch" <<'EOF'
#!/bin/bash
srun bash -c 'grep Cpus_allowed_list /proc/self/status | cut -f2'
EOF
id=$(sbatch --parsable -n 2 --cpus-per-task=1 --output="$out/aff-%j.out" "$out/affinity.sbatch")
state=$(slurm_wait_job "$id" 30) || state="timeout"
got=$(cpus <"$out/aff-$id.out")
if [[ $state == "COMPLETED 0:0" && $got == "0 1" ]]; then ok "sbatch -n 2 -c 1, plain srun: tasks on CPUs $got"
else fail "sbatch -n 2 -c 1, plain srun: job $id '$state', CPU lists '$got', expected '0 1'"; fi
cat >"$out/cpt.sbatch" <<'EOF'
#!/bin/bash
echo "plain $(srun --cpu-bind=cores grep Cpus_allowed_list /proc/self/status | cut -f2)"
echo "srun_cpt $(SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK srun --cpu-bind=cores grep Cpus_allowed_list /proc/self/status | cut -f2)"
EOF
id=$(sbatch --parsable -n 1 --cpus-per-task=2 --output="$out/cpt-%j.out" "$out/cpt.sbatch")
state=$(slurm_wait_job "$id" 30) || state="timeout"
if [[ $state == "COMPLETED 0:0" ]] && grep -qx 'srun_cpt 0-1' "$out/cpt-$id.out"; then
  ok "sbatch -c 2: SRUN_CPUS_PER_TASK gives the task CPUs 0-1 (plain srun: $(sed -n 's/^plain //p' "$out/cpt-$id.out"))"
else
  fail "sbatch -c 2 with SRUN_CPUS_PER_TASK: job $id '$state', output: $(cat "$out/cpt-$id.out")"
fi

# 4. Requeue of a running job: it runs again (Restarts=1, SLURM_RESTART_COUNT=1) and can be
# cancelled; with --open-mode=append the output keeps both runs.
# shellcheck disable=SC2016  # expanded in the job
id=$(sbatch --parsable --open-mode=append --output="$out/requeue-%j.out" \
  --wrap 'echo "run ${SLURM_RESTART_COUNT:-0}"; sleep 300')
runs() { grep '^run ' "$out/requeue-$id.out" 2>/dev/null | tr '\n' ' '; }
if slurm_wait_state "$id" RUNNING 30; then
  t0=$SECONDS
  scontrol requeue "$id"
  if slurm_wait_state "$id" RUNNING 60 && [[ $(slurm_job_field "$id" Restarts) == 1 ]]; then
    ok "requeued job $id running again after $((SECONDS - t0)) s"
  else
    fail "requeued job $id: state $(slurm_job_field "$id" JobState), Restarts $(slurm_job_field "$id" Restarts)"
  fi
  for _ in $(seq 20); do [[ $(runs) == "run 0 run 1 " ]] && break; sleep 0.25; done
  [[ $(runs) == "run 0 run 1 " ]] || fail "requeue output is '$(runs)', expected 'run 0 run 1'"
  scancel "$id"
  state=$(slurm_wait_job "$id" 30) || state="timeout"
  [[ $state == CANCELLED* ]] || fail "scancel $id: job ended '$state'"
else
  fail "job $id never RUNNING"
fi

echo "cluster up in $((t_up - t_start)) s, checks took $((SECONDS - t_up)) s"
if ((failures)); then
  echo "$failures check(s) failed; daemon logs:" >&2
  slurm_log_tails 15
  exit 1
fi
echo "PASS"
