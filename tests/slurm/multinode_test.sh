#!/usr/bin/env bash
# slurm/prune_cpu.sbatch on a real two-node Slurm: `sbatch -N 2 --ntasks-per-node=1`, the
# shipped several-node recipe. The nodes n1, n2 are slurmd daemons in their own network, UTS
# and mount namespaces (cluster.sh, netns.sh): two hosts to Slurm and to Open MPI.
#  (a) the job runs on n1 and n2 (its NodeList; every rank's gethostname in profile.h5,
#      gathered over MPI), one MPI world of 2 over TCP: a laco_dist TCP connection between
#      the two nodes' addresses while it runs, and shared memory alone cannot join them
#      (OMPI_MCA_btl=self,vader: "unable to reach each other");
#  (b) its checkpoint (1 MB shards) and report candidates are those of a plain run, byte
#      for byte;
#  (c) output.dir on the shared file system: both ranks write shares of the checkpoint (the
#      "save" rows of profile.h5); output.dir under $SLURM_TEST_LOCAL_DIR, which n2 sees as
#      its own empty tmpfs: laco_dist logs that rank 0 writes the whole checkpoint, rank 1
#      writes nothing, and the bytes are the same;
#  (d) `scontrol requeue` in the middle of the run: the job resumes on both nodes to the
#      same bytes.
# Exit 0 passed, 1 failed, 77 skipped (no Slurm, assets or h5dump; a failure under CI=true;
# a machine that refuses network namespaces is a skip even under CI=true).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/slurm/cluster.sh
source "$here/cluster.sh"
# shellcheck source=tests/slurm/prune_jobs.sh
source "$here/prune_jobs.sh"
if ! command -v h5dump >/dev/null; then
  [[ ${CI:-} == true ]] && { echo "FAIL: h5dump (hdf5-tools) not installed (CI=true)" >&2; exit 1; }
  echo "SKIP: h5dump (hdf5-tools) not installed: the checks read profile.h5"
  exit 77
fi

t_start=$SECONDS
slurm_cluster_start_nodes_or_skip 2
cd "$SLURM_TEST_DIR"
out=$SLURM_TEST_DIR/out ref=$SLURM_TEST_DIR/ref
mkdir -p "$out"
# Several shards, so that both ranks have some to write.
shards=(--set output.shard_size=1MB)
plain_run "$ref" "${shards[@]}"
t_up=$SECONDS

# Submits prune_cpu.sbatch on 2 nodes x 1 task into $1 (more sbatch options after, e.g. the
# environment before it); prints the job id.
submit_2x1() {
  local d=$1
  shift
  # shellcheck disable=SC2046
  submit prune_cpu.sbatch -N 2 --ntasks-per-node=1 "$@" -- "$config" $(quick_args "$d" "${shards[@]}")
}

# "RANK BYTES" for each rank's last "save" row of $1/profile.h5: the checkpoint share it
# wrote (earlier rows are rank 0's state saves). Rows print as {rank,"phase",t0,t1,bytes,layers}.
save_bytes() {
  h5dump -y -d /phases "$1/profile.h5" | tr -d ' \n' | grep -o '{[0-9]*,"save",[^}]*}' |
    tr -d '{}' | awk -F, '{ last[$1] = $5 } END { for (r in last) print r, last[r] }' | sort -n
}

# Every rank's host name, in rank order, from $1/profile.h5.
rank_hosts() { h5dump -y -a /hostnames "$1/profile.h5" | sed -n '/DATA {/,/}/p' | grep -o '"[^"]*"' | tr -d '"' | paste -sd' '; }

# The bytes of the checkpoint in $1 (what the ranks' save rows must add up to).
checkpoint_bytes() { checkpoint_files "$1" | (cd "$1" && xargs stat -c %s) | awk '{ n += $1 } END { print n }'; }

# (a) + (b) + (c): the recipe into the shared file system.
d=$SLURM_TEST_DIR/shared
id=$(submit_2x1 "$d")
if expect_completed "$id" 0 "sbatch -N 2 --ntasks-per-node=1 prune_cpu.sbatch"; then
  log=$out/prune_cpu-$id.out
  expect_same_output "$d" "2 nodes x 1 rank, shared output.dir"
  nodes=$(slurm_job_field "$id" NodeList)
  hosts=$(rank_hosts "$d")
  if [[ $nodes == "n[1-2]" && $hosts == "n1 n2" ]] && grep -q "2 ranks (W=2 x S=1)" "$log"; then
    ok "2 nodes: NodeList $nodes, ranks on hosts $hosts (profile.h5), 2 ranks in one world"
  else
    fail "expected NodeList n[1-2], ranks on n1 n2 and '2 ranks (W=2 x S=1)'; got NodeList '$nodes', hosts '$hosts', $(grep ' ranks ' "$log" || echo 'no ranks line')"
  fi
  rows=$(save_bytes "$d")
  total=$(checkpoint_bytes "$d")
  read -r r0 b0 r1 b1 rest <<<"$(paste -sd' ' <<<"$rows")"
  if [[ $r0 == 0 && $r1 == 1 && -z $rest ]] && ((b0 > 0 && b1 > 0 && b0 + b1 == total)); then
    ok "shared output.dir: rank 0 wrote $b0 and rank 1 $b1 of the checkpoint's $total bytes"
  else
    fail "shared output.dir: expected both ranks to write shares adding up to $total bytes; save rows: $(paste -sd';' <<<"$rows")"
  fi
  ! grep -q "is not the same directory on every rank" "$log" || fail "shared output.dir: laco_dist says the ranks do not share it"
fi

# (a) How we know the world above was joined over TCP: the ranks live in different network
# namespaces, so the bridge is the only path between their sockets, and Open MPI's shared
# memory (btl vader) serves only ranks that PMIx places on one host. With it alone the job
# must fail (measured: "BTLs attempted: self" -- vader is not even tried between n1 and
# n2); the TCP connection itself is seen in (d).
d=$SLURM_TEST_DIR/vader
id=$(OMPI_MCA_btl=self,vader submit_2x1 "$d")
state=$(slurm_wait_job "$id" 60) || state=timeout
if [[ $state != "COMPLETED 0:0" ]] && grep -q "unable to reach each other" "$out/prune_cpu-$id.out"; then
  ok "OMPI_MCA_btl=self,vader: job $id $state, the ranks on n1 and n2 are unable to reach each other"
else
  fail "OMPI_MCA_btl=self,vader: job $id ended '$state' without 'unable to reach each other': are the ranks on one host?"
fi

# (c) n2 sees its own empty tmpfs at $SLURM_TEST_LOCAL_DIR: one writer, the same bytes.
d=$SLURM_TEST_LOCAL_DIR/out
id=$(submit_2x1 "$d")
if expect_completed "$id" 0 "output.dir private to each node"; then
  log=$out/prune_cpu-$id.out
  expect_same_output "$d" "output.dir private to each node"
  if grep -q "output.dir '$d' is not the same directory on every rank .*: rank 0 writes the whole checkpoint" "$log"; then
    ok "output.dir private to each node: laco_dist logs that rank 0 writes the whole checkpoint"
  else
    fail "output.dir private to each node: no 'not the same directory on every rank' line in $log"
  fi
  rows=$(save_bytes "$d")
  total=$(checkpoint_bytes "$d")
  [[ $(paste -sd' ' <<<"$rows") == "0 $total 1 0" ]] ||
    fail "output.dir private to each node: expected rank 0 to write all $total bytes, rank 1 none; save rows: $(paste -sd';' <<<"$rows")"
fi

# (d) scontrol requeue once the first round's state is saved; rounds slowed so that it lands
# mid-run. Meanwhile: the ranks' TCP connection across the bridge.
d=$SLURM_TEST_DIR/requeue
id=$(LACO_TEST_ROUND_DELAY_MS=500 submit_2x1 "$d")
if wait_file "$d/laco_state.json" 60; then
  a1=$(slurm_node_addr 1) a2=$(slurm_node_addr 2)
  conn=$(slurm_node_net_exec 1 ss -Htnp state established dst "$a2" | grep '"laco_dist"' || true)
  if [[ -n $conn ]]; then
    ok "n1 and n2: laco_dist connected over TCP, $(awk 'NR == 1 { print $3 " <-> " $4 }' <<<"$conn")"
  else
    fail "no established TCP connection of laco_dist from n1 ($a1) to n2 ($a2): $(slurm_node_net_exec 1 ss -Htnp 2>&1 | paste -sd';')"
  fi
  scontrol requeue "$id"
  if expect_completed "$id" 1 "scontrol requeue on 2 nodes"; then
    expect_same_output "$d" "scontrol requeue on 2 nodes"
    log=$out/prune_cpu-$id.out
    grep -q "continuing\|resuming at" "$log" || fail "requeue on 2 nodes: the restarted job did not resume"
    n=$(grep -c "2 ranks (W=2 x S=1)" "$log" || true)
    ((n == 2)) || fail "requeue on 2 nodes: expected both runs with 2 ranks, $n had"
    [[ $(slurm_job_field "$id" NodeList) == "n[1-2]" ]] || fail "requeue on 2 nodes: restarted on $(slurm_job_field "$id" NodeList)"
  fi
else
  fail "requeue on 2 nodes: no laco_state.json after 60 s; job $id $(slurm_job_field "$id" JobState), its output:"
  cat "$out/prune_cpu-$id.out" >&2
fi
echo "cluster + plain run in $((t_up - t_start)) s, checks took $((SECONDS - t_up)) s"
finish
