#!/usr/bin/env bash
# The shipped sbatch scripts on a real one-node Slurm (issue 13 items 2a, 2e, 2f, 4): each
# run gives the checkpoint and report candidates of a plain run, byte for byte.
#  (a) slurm/prune_cpu.sbatch with 2 tasks (srun --mpi=pmix, --cpus-per-task passed on);
#  (e) slurm/prune.sbatch on a node without GPUs runs on the CPU and says so;
#  (f) `srun --mpi=pmix -n 2 laco_dist config.toml` as a step inside salloc and sbatch;
#  and prune_cpu.sbatch -n 1 -c 2: the rank runs on both CPUs (the affinity it reports).
# Exit 0 passed, 1 failed, 77 skipped (no Slurm or assets; a failure under CI=true).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/slurm/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/slurm/prune_jobs.sh
source "$here/prune_jobs.sh"
start_cluster_with_reference

# (a) prune_cpu.sbatch with its defaults: 1 node, 2 tasks x 1 CPU (the README recipe).
d=$SLURM_TEST_DIR/cpu2
# shellcheck disable=SC2046
id=$(submit prune_cpu.sbatch -- "$config" $(quick_args "$d"))
expect_completed "$id" 0 "prune_cpu.sbatch -n 2" && expect_same_output "$d" "prune_cpu.sbatch -n 2"
grep -q "2 ranks (W=2 x S=1)" "$out/prune_cpu-$id.out" || fail "prune_cpu.sbatch -n 2 did not run 2 ranks: $(grep 'ranks' "$out/prune_cpu-$id.out")"

# prune_cpu.sbatch -n 1 -c 2: srun gets --cpus-per-task, so the rank may use both CPUs
# (threads = 2 here, so only the affinity is checked, not the bytes).
d=$SLURM_TEST_DIR/cpu1x2
# shellcheck disable=SC2046
id=$(submit prune_cpu.sbatch -N 1 --ntasks-per-node=1 --cpus-per-task=2 -- "$config" $(quick_args "$d" | sed 's/--set model.threads=1 //'))
if expect_completed "$id" 0 "prune_cpu.sbatch -n 1 -c 2"; then
  log=$out/prune_cpu-$id.out
  if grep -q "2 threads per rank (rank 0 on CPUs 0-1)" "$log" && ! grep -q "its threads share cores" "$log"; then
    ok "prune_cpu.sbatch -c 2: the rank runs 2 threads on CPUs 0-1"
  else
    fail "prune_cpu.sbatch -c 2: expected '2 threads per rank (rank 0 on CPUs 0-1)' and no warning: $(grep -E 'threads|share cores' "$log")"
  fi
fi

# (e) prune.sbatch without GPUs: one rank per socket on the CPU (model.threads=1 from the
# arguments wins over the script's choice, to compare the bytes).
d=$SLURM_TEST_DIR/gpu_script
# shellcheck disable=SC2046
id=$(submit prune.sbatch -- "$config" $(quick_args "$d"))
if expect_completed "$id" 0 "prune.sbatch on a node without GPUs"; then
  expect_same_output "$d" "prune.sbatch on a node without GPUs"
  grep -q "no GPU on this node: running on the CPU" "$out/prune-$id.out" || fail "prune.sbatch did not say it runs on the CPU"
fi

# (f) an srun step inside salloc, and inside an sbatch script (the README recipe).
d=$SLURM_TEST_DIR/salloc
# shellcheck disable=SC2046
if timeout 120 salloc -n 2 srun --mpi=pmix "$LACO_BIN" "$config" $(quick_args "$d") >"$out/salloc.log" 2>&1; then
  expect_same_output "$d" "salloc -n 2 srun --mpi=pmix laco_dist config.toml"
else
  fail "salloc -n 2 srun --mpi=pmix laco_dist failed: $(tail -5 "$out/salloc.log")"
fi
d=$SLURM_TEST_DIR/step
cat >"$out/step.sbatch" <<EOS
#!/bin/bash
srun --mpi=pmix -n 2 "$LACO_BIN" "$config" $(quick_args "$d")
EOS
id=$(sbatch --parsable -n 2 --output="$out/step-%j.out" "$out/step.sbatch")
expect_completed "$id" 0 "sbatch with srun --mpi=pmix -n 2 laco_dist" && expect_same_output "$d" "sbatch with srun --mpi=pmix -n 2 laco_dist"
finish
