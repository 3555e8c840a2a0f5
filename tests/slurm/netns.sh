# shellcheck shell=bash
# Linux namespaces as Slurm nodes, for cluster.sh's multi-node mode (sourced by cluster.sh).
# Debian's Slurm is built without --enable-multiple-slurmd, so N slurmd need N hosts: node
# nK runs in its own network namespace (loopback, one veth into a bridge in the root
# namespace, address $prefix.(10+K)), UTS namespace (hostname nK) and mount namespace (its
# own /etc/hosts; on nodes 2..N a private tmpfs over $SLURM_TEST_DIR/local). The file
# system is otherwise shared: munge's pathname socket, the test dir, the binaries.
# Names derive from $$ (bridge laco<pid>b, veths laco<pid>v<K>, namespaces laco<pid>-n<K>);
# the /24 too, checked to be unused on this host.

_SLURM_NET=()           # what _slurm_net_up created, in order: "netns NAME" or "link NAME"
_SLURM_NET_PREFIX=""    # e.g. 10.200.57: the bridge is .1, node K is .(10+K)
_SLURM_NET_ERROR=""     # why _slurm_net_up failed

# A 10.x.y prefix (x >= 128) that no address or route on this host uses, derived from $$.
_slurm_free_subnet() {
  local i n prefix used
  used=$(ip -4 -o addr show; ip -4 route show table all)
  for i in $(seq 0 50); do
    n=$((($$ + i * 37) % 32768))
    prefix=10.$((128 + n / 256)).$((n % 256))
    [[ $used == *" $prefix."* || $used == *$'\n'"$prefix."* || $used == "$prefix."* ]] || { echo "$prefix"; return 0; }
  done
  return 1
}

# Runs "$@", recording its error in _SLURM_NET_ERROR on failure.
_slurm_net_do() {
  local err
  err=$("$@" 2>&1) && return 0
  _SLURM_NET_ERROR="'$*' failed: $err"
  return 1
}

# Creates the bridge and one namespace + veth per node. Returns 2 when the kernel refuses
# the first namespace or the bridge (no CAP_SYS_ADMIN / CAP_NET_ADMIN here: a skip even in
# CI), 1 on any other failure; what was created stays recorded for _slurm_net_down.
_slurm_net_up() {
  local nodes=$1 tag=laco$$ k ns veth
  _SLURM_NET_PREFIX=$(_slurm_free_subnet) || { _SLURM_NET_ERROR="no free 10.x.y.0/24"; return 1; }
  ns=$tag-n1
  [[ ! -e /run/netns/$ns ]] || { _SLURM_NET_ERROR="network namespace $ns exists (a leftover? ip netns del $ns)"; return 1; }
  _slurm_net_do ip netns add "$ns" || return 2
  _SLURM_NET+=("netns $ns")
  _slurm_net_do ip link add "${tag}b" type bridge || return 2
  _SLURM_NET+=("link ${tag}b")
  _slurm_net_do ip addr add "$_SLURM_NET_PREFIX.1/24" dev "${tag}b" || return 1
  _slurm_net_do ip link set "${tag}b" up || return 1
  for k in $(seq "$nodes"); do
    ns=$tag-n$k veth=${tag}v$k
    if ((k > 1)); then
      _slurm_net_do ip netns add "$ns" || return 1
      _SLURM_NET+=("netns $ns")
    fi
    # The node's end is created inside its namespace, so no name there clashes with ours.
    _slurm_net_do ip link add "$veth" type veth peer name eth0 netns "$ns" || return 1
    _SLURM_NET+=("link $veth")
    _slurm_net_do ip link set "$veth" master "${tag}b" up || return 1
    _slurm_net_do ip -n "$ns" link set lo up || return 1
    _slurm_net_do ip -n "$ns" addr add "$_SLURM_NET_PREFIX.$((10 + k))/24" dev eth0 || return 1
    _slurm_net_do ip -n "$ns" link set eth0 up || return 1
  done
}

# Removes what _slurm_net_up created, in reverse order (a veth's other end goes with it).
# Run it once the processes inside are dead. Safe to call twice.
_slurm_net_down() {
  local i
  for ((i = ${#_SLURM_NET[@]} - 1; i >= 0; i--)); do
    case ${_SLURM_NET[i]} in
      netns\ *) ip netns del "${_SLURM_NET[i]#netns }" 2>/dev/null || true ;;
      link\ *) ip link del "${_SLURM_NET[i]#link }" 2>/dev/null || true ;;
    esac
  done
  _SLURM_NET=()
}

# _slurm_node_exec K HOSTS_FILE [LOCAL_DIR] -- CMD...: replaces the calling (background)
# shell by CMD run as node nK: its network namespace, hostname nK, HOSTS_FILE bound over
# /etc/hosts, a tmpfs over LOCAL_DIR if given. Every step execs (nsenter, unshare, sh -c
# exec), so `_slurm_node_exec ... &` leaves CMD's PID in $!. nsenter, not `ip netns exec`:
# that one remounts /sys, which hides /sys/fs/cgroup (slurmd: "Unable to initialize cgroup
# plugin").
_slurm_node_exec() {
  local k=$1 hosts=$2 local_dir=""
  shift 2
  if [[ $1 != -- ]]; then local_dir=$1; shift; fi
  shift
  # shellcheck disable=SC2016  # $1.. are sh's own positional parameters
  exec nsenter --net="/run/netns/laco$$-n$k" unshare --uts --mount --propagation private \
    sh -c 'hostname "$1" && mount --bind "$2" /etc/hosts || exit 1
           if [ -n "$3" ]; then mount -t tmpfs -o size=64m,mode=0755 "laco-local-$1" "$3" || exit 1; fi
           shift 3; exec "$@"' sh "n$k" "$hosts" "$local_dir" "$@"
}

# Node nK's address on the bridge, e.g. 10.200.57.11 for n1.
slurm_node_addr() { echo "$_SLURM_NET_PREFIX.$((10 + $1))"; }

# Runs CMD in node nK's network namespace only (e.g. ss, to see its TCP connections).
slurm_node_net_exec() {
  local k=$1
  shift
  nsenter --net="/run/netns/laco$$-n$k" "$@"
}
