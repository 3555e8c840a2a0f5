# shellcheck shell=bash
# A throw-away Slurm cluster for tests (Debian 12: Slurm 22.05, munge 0.5): one node, or
# several in Linux namespaces. Source this file, then:
#
#   slurm_cluster_start_or_skip          # or slurm_cluster_start (returns non-zero on failure)
#   id=$(sbatch --parsable --output="$SLURM_TEST_DIR/job-%j.out" --wrap hostname)
#   slurm_wait_job "$id" 60              # prints e.g. "COMPLETED 0:0"
#
# Everything lives in a fresh $SLURM_TEST_DIR (munge key and socket, slurm.conf, state, spool,
# logs); nothing in /etc is read or changed. SLURM_CONF is exported, so sbatch/srun/scontrol
# of the calling script (and of its jobs, which inherit the environment) talk to this cluster.
# Daemons run as root (munged as the munge user), so must the test.
#
# Call slurm_cluster_start in the test's main shell (not in $(...) or a pipeline).
# Clean-up: slurm_cluster_start installs an EXIT trap (plus INT/TERM -> exit) that stops the
# daemons by PID (TERM, KILL after 5 s), KILLs what jobs left running (slurmstepd, srun,
# tasks) and removes $SLURM_TEST_DIR unless KEEP_SLURM_TEST_DIR=1. An EXIT trap set BEFORE slurm_cluster_start is chained (runs after
# the stop); one set AFTER replaces ours, so it must call slurm_cluster_stop itself. A watchdog
# also stops the daemons if the calling shell dies without running its trap (SIGKILL).
# Several clusters may run at once: ports (and the namespaces' names and subnet) are derived
# from $$ and checked to be free.
#
# Variables: SLURM_TEST_DIR, SLURM_CONF, SLURM_TEST_NODE (the node name), SLURM_TEST_CPUS.
#
# Several nodes: slurm_cluster_start_nodes N (or slurm_cluster_start_nodes_or_skip N) starts
# nodes n1..nN, each slurmd in its own network, UTS and mount namespaces (netns.sh): a
# distinct host to Slurm and MPI, reached over a bridge; slurmctld runs in the test's
# namespace, as $(hostname -s) on the bridge's address. The file system is shared, except
# $SLURM_TEST_LOCAL_DIR: the test's own directory on n1 and in the test's shell, an empty
# private tmpfs on n2..nN (node-local disks under one path). More variables:
# SLURM_TEST_NODES ("n1 n2"), SLURM_TEST_LOCAL_DIR; SLURM_TEST_NODE is n1, SLURM_TEST_CPUS
# the CPUs a job may use on each node: the host's CPUs split between the nodes (CpuSpecList
# reserves the rest; 1 each for 2 nodes on 2 CPUs, so --ntasks-per-node=2 is refused).
# slurm_node_addr K, slurm_node_net_exec K CMD: node nK's address, CMD in its network.
#
# Writing tests (see smoke_test.sh for what was observed):
# - Jobs run as root in the submitting directory with the submitter's environment: export
#   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 first.
# - Give sbatch an absolute --output (default: slurm-%j.out in the current directory); a
#   requeued job truncates it unless --open-mode=append.
# - MpiDefault=none: pass srun --mpi=pmix. More tasks than CPUs: sbatch/srun -O (--overcommit),
#   else the job stays PENDING (Reason=PartitionConfig).
# - srun in a batch script does not inherit --cpus-per-task: srun -c N or SRUN_CPUS_PER_TASK.

# shellcheck source=tests/slurm/netns.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

_SLURM_PIDS=()          # munged, slurmctld, slurmd started by slurm_cluster_start
_SLURM_WATCHDOG=""      # its watchdog subshell
_SLURM_NODE_ADDRS=()    # "NAME=ADDR" of each node, for slurm.conf
_SLURM_PREV_EXIT_TRAP=""

_slurm_log() { echo "slurm-cluster: $*" >&2; }

# Tails (default 20 lines) of the daemon logs for failure reports: log/*.log (munged,
# slurmctld, slurmd and slurmstepd); with a second argument "all", also log/*.stderr (what
# slurmctld -D / slurmd -D print, including errors from before their log file is open).
slurm_log_tails() {
  local f d=${SLURM_TEST_DIR:-/nonexistent}/log
  for f in "$d"/*.log $([[ ${2:-} == all ]] && echo "$d"/*.stderr); do
    [[ -f $f ]] || continue
    echo "---- tail of $f" >&2
    tail -n "${1:-20}" "$f" >&2
  done
}

# A port p such that p and p+1 are free on this host, derived from $$.
_slurm_free_ports() {
  local base=$((20000 + ($$ * 2) % 20000)) i p
  for i in $(seq 0 50); do
    p=$((base + 2 * i))
    if ! ss -Htan "( sport = :$p or sport = :$((p + 1)) )" | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Waits up to $1 s for the command "${@:2}" to succeed; gives up at once if a daemon died.
_slurm_wait_for() {
  local deadline=$((SECONDS + $1)) pid; shift
  until "$@" >/dev/null 2>&1; do
    for pid in "${_SLURM_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || { _slurm_log "a daemon exited (PID $pid)"; return 1; }
    done
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Every node of $SLURM_TEST_NODES is idle.
_slurm_nodes_idle() {
  local states
  states=$(sinfo -h -N -o %T 2>/dev/null) || return 1
  [[ $(grep -cx idle <<<"$states") == $(wc -w <<<"$SLURM_TEST_NODES") ]]
}

# Starts "$2..." in the background with stdout/stderr appended to log/$1 and records its PID.
_slurm_spawn() {
  local name=$1; shift
  "$@" >>"$SLURM_TEST_DIR/log/$name" 2>&1 </dev/null &
  _SLURM_PIDS+=("$!")
}

# _slurm_write_conf CTLD_NAME CTLD_ADDR PORT HW NODE=ADDR...: slurm.conf with one line per node.
_slurm_write_conf() {
  local ctld=$1 ctld_addr=$2 port=$3 hw=$4 d=$SLURM_TEST_DIR node names=()
  shift 4
  local field cpus mem rest=""
  # slurmd -C: "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
  for field in $hw; do
    case $field in
      NodeName=*) ;;
      RealMemory=*) mem=${field#RealMemory=} ;;
      CPUs=*) cpus=${field#CPUs=}; rest+=" $field" ;;
      *=*) rest+=" $field" ;;
    esac
  done
  SLURM_TEST_CPUS=$cpus
  cat >"$SLURM_CONF" <<EOF
# Generated by tests/slurm/cluster.sh for a throw-away test cluster.
ClusterName=laco-test
SlurmctldHost=$ctld($ctld_addr)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# socket: our own munged (auth/munge and cred/munge both read it).
# cred_expire=5: the minimum Slurm accepts (default 120). A requeued job is not eligible
# before cred_expire+1 s; measured here: "scontrol requeue" of a running job (or a job
# requeueing itself) -> RUNNING again after 5.6-6.6 s.
AuthInfo=socket=$d/munge-sock/munge.socket,cred_expire=5
StateSaveLocation=$d/state
# %n: the node name, so that the nodes of a multi-node cluster keep apart.
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
# Also where srun --mpi=pmix puts its client directories (spmix_appdir_*, default /tmp,
# which the nodes of a multi-node cluster share).
TmpFS=$d/tmp/%n
SlurmctldDebug=info
SlurmdDebug=info
# No mail: the default /bin/mail is absent and slurmctld logs an error.
MailProg=/bin/true
# No cgroups: processes tracked by parent PID; task/affinity binds tasks (srun --cpu-bind).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SwitchType=switch/none
# Jobs pick their MPI plugin: srun --mpi=pmix.
MpiDefault=none
SchedulerType=sched/builtin
# sched_interval=1: the periodic scheduling pass (default 60 s) is what starts a requeued
# job once it is eligible again (with the default: 58 s measured instead of 6 s).
# batch_sched_delay=0, sched_min_interval=0: no batching of scheduling on submit/complete.
SchedulerParameters=sched_interval=1,batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
# Cores are the resource (memory is not tracked): 2 tasks x 1 CPU run side by side.
SelectTypeParameters=CR_Core
# A DOWN node (e.g. after a slurmd restart in a test) comes back by itself.
ReturnToService=2
# Batch jobs are requeueable by default (scontrol requeue, node failure).
JobRequeue=1
# Finished jobs stay visible to "scontrol show job" for 300 s (the default; slurm_wait_job needs them).
MinJobAge=300
# 5 s between SIGTERM and SIGKILL on scancel/timeout (default 30).
KillWait=5
# RPC timeout: the default 10 s, ample on one host.
MessageTimeout=10
# Never cancel a job whose srun went away silently.
InactiveLimit=0
# Node is marked DOWN 30 s after slurmd stops answering (default 300).
SlurmdTimeout=30
# No accounting daemon.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
EOF
  # Several nodes on one host: node K's jobs get the K-th 1/N of the CPUs (measured: with
  # task/affinity, srun --cpu-bind=cores puts n1's task on CPU 0 and n2's on CPU 1 of a
  # 2-CPU host). CpuSpecList reserves the other CPUs "for the system"; without it every
  # node would bind its first task to CPU 0. Fewer CPUs than nodes: the nodes share them.
  local n=$# k=0 per=$((cpus / $#)) spec
  ((n > 1 && per >= 1)) && SLURM_TEST_CPUS=$per
  for node in "$@"; do
    spec=""
    if ((n > 1 && per >= 1)); then
      spec=" CpuSpecList=$( (seq 0 $((k * per - 1)); seq $(((k + 1) * per)) $((cpus - 1))) | paste -sd,)"
    fi
    echo "NodeName=${node%%=*} NodeAddr=${node#*=}$rest$spec RealMemory=$((mem * 9 / 10)) State=UNKNOWN" >>"$SLURM_CONF"
    names+=("${node%%=*}")
    k=$((k + 1))
  done
  local IFS=,
  echo "PartitionName=debug Nodes=${names[*]} Default=YES MaxTime=INFINITE State=UP" >>"$SLURM_CONF"
}

slurm_cluster_start() { _slurm_cluster_start 0; }

# The namespaces of nodes n1..n$1 (netns.sh), their spool and tmp dirs, $SLURM_TEST_LOCAL_DIR,
# the nodes' /etc/hosts ($SLURM_TEST_DIR/hosts) and _SLURM_NODE_ADDRS ("nK=ADDR" each).
# Returns _slurm_net_up's status.
_slurm_prepare_nodes() {
  local nodes=$1 d=$SLURM_TEST_DIR k addr
  _slurm_net_up "$nodes" || return
  export SLURM_TEST_LOCAL_DIR=$d/local
  mkdir -p "$SLURM_TEST_LOCAL_DIR"
  printf '127.0.0.1 localhost\n%s %s\n' "$_SLURM_NET_PREFIX.1" "$(hostname -s)" >"$d/hosts"
  _SLURM_NODE_ADDRS=()
  for k in $(seq "$nodes"); do
    addr=$(slurm_node_addr "$k")
    mkdir -p "$d/spool/n$k" "$d/tmp/n$k"
    _SLURM_NODE_ADDRS+=("n$k=$addr")
    echo "$addr n$k" >>"$d/hosts"
  done
  SLURM_TEST_NODE=n1 SLURM_TEST_NODES=$(seq -f 'n%g' -s ' ' "$nodes")
}

# N nodes n1..nN in namespaces (see the top of this file). Returns 2 when the kernel refuses
# a network namespace or bridge (no CAP_SYS_ADMIN / CAP_NET_ADMIN), 1 on other failures.
slurm_cluster_start_nodes() { _slurm_cluster_start "$1"; }

# _slurm_cluster_start N: N = 0 is the one-node cluster on this host, N >= 1 nodes n1..nN.
_slurm_cluster_start() {
  local nodes=$1 d t0=$SECONDS hw port rc k ctld_addr=127.0.0.1
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    _slurm_log "slurmctld, slurmd or munged not installed"; return 1
  fi
  [[ $(id -u) == 0 ]] || { _slurm_log "must run as root (SlurmUser=root)"; return 1; }
  id munge >/dev/null 2>&1 || { _slurm_log "no munge user"; return 1; }

  d=$(mktemp -d "${TMPDIR:-/tmp}/laco-slurm.XXXXXX")
  export SLURM_TEST_DIR=$d SLURM_CONF=$d/slurm.conf
  # munged is strict: the key dir must be private to munge, the socket dir (and every
  # directory above it) executable by all.
  chmod 0755 "$d"
  mkdir -p "$d"/{log,state,spool}
  install -d -o munge -g munge -m 0700 "$d/munge"
  install -d -o munge -g munge -m 0755 "$d/munge-sock"

  # Trap first, so that a failure below still stops what started.
  _slurm_install_trap

  local as_munge=(setpriv --reuid=munge --regid=munge --init-groups --)
  "${as_munge[@]}" mungekey --create --bits=1024 --keyfile="$d/munge/munge.key" ||
    { _slurm_log "mungekey failed"; slurm_cluster_stop; return 1; }
  chmod 0400 "$d/munge/munge.key"
  # setpriv execs, so the recorded PID is munged's own. Under --foreground munged logs to
  # stderr (--log-file is not written), which goes to the same log/munged.log.
  _slurm_spawn munged.log "${as_munge[@]}" munged --foreground --socket="$d/munge-sock/munge.socket" \
    --key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" \
    --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed"
  _slurm_wait_for 10 munge -n -S "$d/munge-sock/munge.socket" ||
    { _slurm_log "munged did not start"; slurm_log_tails 20 all; slurm_cluster_stop; return 1; }

  hw=$(slurmd -C | head -n 1)
  port=$(_slurm_free_ports) || { _slurm_log "no free port pair"; slurm_cluster_stop; return 1; }
  export SLURM_TEST_NODE SLURM_TEST_NODES SLURM_TEST_CPUS
  if ((nodes == 0)); then
    SLURM_TEST_NODE=$(hostname -s) SLURM_TEST_NODES=$SLURM_TEST_NODE
    _SLURM_NODE_ADDRS=("$SLURM_TEST_NODE=127.0.0.1")
    mkdir -p "$d/spool/$SLURM_TEST_NODE" "$d/tmp/$SLURM_TEST_NODE"
  else
    rc=0; _slurm_prepare_nodes "$nodes" || rc=$?
    if ((rc)); then _slurm_log "$_SLURM_NET_ERROR"; slurm_cluster_stop; return "$rc"; fi
    ctld_addr=$_SLURM_NET_PREFIX.1
  fi
  _slurm_write_conf "$(hostname -s)" "$ctld_addr" "$port" "$hw" "${_SLURM_NODE_ADDRS[@]}"

  _slurm_spawn slurmctld.stderr slurmctld -D -i
  _slurm_wait_for 15 scontrol ping ||
    { _slurm_log "slurmctld did not answer"; slurm_log_tails 20 all; slurm_cluster_stop; return 1; }
  if ((nodes == 0)); then
    _slurm_spawn slurmd.stderr slurmd -D -N "$SLURM_TEST_NODE"
  else
    # No -N: slurmd finds its node by the host name, which its UTS namespace says is nK.
    _slurm_spawn slurmd-n1.stderr _slurm_node_exec 1 "$d/hosts" -- slurmd -D
    for k in $(seq 2 "$nodes"); do
      _slurm_spawn "slurmd-n$k.stderr" _slurm_node_exec "$k" "$d/hosts" "$SLURM_TEST_LOCAL_DIR" -- slurmd -D
    done
  fi
  _slurm_wait_for 30 _slurm_nodes_idle ||
    { _slurm_log "nodes $SLURM_TEST_NODES not all idle within 30 s ($(sinfo -h -N -o '%N %T %E' 2>&1 | tr '\n' ';'))"
      slurm_log_tails 20 all; slurm_cluster_stop; return 1; }

  # Watchdog: the calling shell died without its EXIT trap (SIGKILL) -> stop the daemons.
  local parent=$$
  ( set +e; trap - EXIT INT TERM
    while kill -0 "$parent"; do sleep 1; done
    _SLURM_WATCHDOG=""; slurm_cluster_stop ) >/dev/null 2>&1 </dev/null &
  _SLURM_WATCHDOG=$!
  _slurm_log "cluster up in $((SECONDS - t0)) s: node(s) $SLURM_TEST_NODES ($SLURM_TEST_CPUS CPUs each), SLURM_CONF=$SLURM_CONF"
}

_slurm_install_trap() {
  local cur words
  cur=$(trap -p EXIT)
  if [[ -n $cur && $cur != *_slurm_on_exit* ]]; then
    eval "words=($cur)"   # trap -- 'CMD' EXIT
    _SLURM_PREV_EXIT_TRAP=${words[2]}
  fi
  trap _slurm_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_slurm_on_exit() {
  local rc=$?
  slurm_cluster_stop || true
  # The chained trap sees the script's exit status in $? ("false || B" runs B with $? set,
  # without tripping set -e).
  if [[ -n $_SLURM_PREV_EXIT_TRAP ]]; then
    if ((rc)); then _slurm_status "$rc" || eval "$_SLURM_PREV_EXIT_TRAP"; else eval "$_SLURM_PREV_EXIT_TRAP"; fi
  fi
  return "$rc"
}
_slurm_status() { return "$1"; }

# KILLs what the cluster's jobs left: slurmstepd, srun and job tasks outlive slurmd. They are
# found by SLURM_CONF=$1 in their environment (slurmd passes it to slurmstepd, jobs and srun
# inherit it from the test), which no other process has: $1 is in a fresh temp dir.
_slurm_kill_leftovers() {
  local p pid
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    grep -qzxF "SLURM_CONF=$1" "$p/environ" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  return 0
}

# Stops the daemons by PID (reverse start order: TERM, KILL after 5 s) and what jobs left,
# then removes the namespaces, veths and bridge of a multi-node cluster, and the test dir
# unless KEEP_SLURM_TEST_DIR=1. Safe to call twice.
slurm_cluster_stop() {
  local pid i
  [[ -n ${_SLURM_WATCHDOG:-} ]] && { kill "$_SLURM_WATCHDOG" 2>/dev/null || true; _SLURM_WATCHDOG=""; }
  if ((${#_SLURM_PIDS[@]})); then
    for ((i = ${#_SLURM_PIDS[@]} - 1; i >= 0; i--)); do
      kill -TERM "${_SLURM_PIDS[i]}" 2>/dev/null || true
    done
    for i in $(seq 50); do
      pid=""
      for pid in "${_SLURM_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && break; pid=""; done
      [[ -z $pid ]] && break
      sleep 0.1
    done
    for pid in "${_SLURM_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait "${_SLURM_PIDS[@]}" 2>/dev/null || true
    _SLURM_PIDS=()
    _slurm_kill_leftovers "$SLURM_CONF"
  fi
  _slurm_net_down
  if [[ -n ${SLURM_TEST_DIR:-} && -d $SLURM_TEST_DIR ]]; then
    if [[ ${KEEP_SLURM_TEST_DIR:-0} == 1 ]]; then
      _slurm_log "kept $SLURM_TEST_DIR"
    else
      rm -rf "$SLURM_TEST_DIR"
    fi
  fi
}

# Starts the cluster, or exits the calling script: 77 (skip) after "SKIP: <reason>", or 1
# when CI=true (in CI a cluster that cannot start is a failure).
slurm_cluster_start_or_skip() { _slurm_start_or_skip 0; }

# The same for N nodes in namespaces; a kernel that refuses network namespaces or bridges
# (no CAP_SYS_ADMIN / CAP_NET_ADMIN, as in many CI containers) is a skip even when CI=true.
slurm_cluster_start_nodes_or_skip() { _slurm_start_or_skip "$1"; }

_slurm_start_or_skip() {
  local reason="" rc=0
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    reason="Slurm (slurmctld, slurmd) or munge not installed"
  elif [[ $(id -u) != 0 ]]; then
    reason="the test Slurm cluster needs root"
  elif (($1 > 0)) && ! { command -v ip && command -v unshare; } >/dev/null; then
    reason="ip (iproute2) or unshare (util-linux) not installed"
  else
    _slurm_cluster_start "$1" || rc=$?
    if ((rc == 2)); then
      echo "SKIP: this machine does not allow network namespaces or bridges (even with CI=true): $_SLURM_NET_ERROR"
      exit 77
    fi
    ((rc == 0)) || reason="the test Slurm cluster did not start (see above)"
  fi
  [[ -z $reason ]] && return 0
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $reason (CI=true)" >&2
    exit 1
  fi
  echo "SKIP: $reason"
  exit 77
}

# One field of "scontrol -o show job", e.g. slurm_job_field 12 Restarts -> 1. Non-zero if
# the job or the field is unknown.
slurm_job_field() {
  local rec kv kvs
  rec=$(scontrol -o show job "$1" 2>/dev/null) || return 1
  read -ra kvs <<<"$rec"
  for kv in "${kvs[@]}"; do
    if [[ $kv == "$2="* ]]; then echo "${kv#*=}"; return 0; fi
  done
  return 1
}

_slurm_job_report() {
  echo "---- scontrol show job $1" >&2
  scontrol show job "$1" >&2 || true
  slurm_log_tails
}

# Waits (default 120 s) until the job is final; prints "STATE EXITCODE", e.g. "COMPLETED 0:0".
# REQUEUED/PENDING/RUNNING/COMPLETING... are waited through. Non-zero on timeout.
slurm_wait_job() {
  local id=$1 deadline=$((SECONDS + ${2:-120})) state
  while ((SECONDS < deadline)); do
    state=$(slurm_job_field "$id" JobState || true)
    case $state in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE)
        echo "$state $(slurm_job_field "$id" ExitCode)"
        return 0 ;;
    esac
    sleep 0.5
  done
  _slurm_log "job $id not finished after ${2:-120} s (state ${state:-unknown})"
  _slurm_job_report "$id"
  return 1
}

# Waits (default 60 s) until the job's JobState is STATE (e.g. RUNNING). Non-zero on timeout.
slurm_wait_state() {
  local id=$1 want=$2 deadline=$((SECONDS + ${3:-60})) state
  while ((SECONDS < deadline)); do
    state=$(slurm_job_field "$id" JobState || true)
    [[ $state == "$want" ]] && return 0
    sleep 0.5
  done
  _slurm_log "job $id not $want after ${3:-60} s (state ${state:-unknown})"
  _slurm_job_report "$id"
  return 1
}
