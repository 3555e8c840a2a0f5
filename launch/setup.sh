#!/usr/bin/env bash
# Shared setup for launch/quickstart.sh and tests/run.sh (sourced, not run): installs the
# Debian packages laco_dist needs when any is missing, then configures and builds the
# Release tree with Ninja in build/release. Nothing is downloaded except Debian packages.
set -euo pipefail

LACO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LACO_BUILD="${LACO_BUILD:-$LACO_ROOT/build/release}"
export LACO_ASSETS="${LACO_ASSETS:-$(cd "$LACO_ROOT/.." && pwd)/shared}"

# libopenblas0-pthread matters: without it LibTorch's fp32 matmul runs ~20x slower.
LACO_PACKAGES=(cmake ninja-build g++ ccache pkg-config libtorch-dev libopenblas0-pthread
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libtomlplusplus-dev libspdlog-dev
  libfmt-dev nlohmann-json3-dev libcli11-dev libgtest-dev libpcre2-dev libicu-dev)

# Only for the test suite (tests/run.sh): a real one-node Slurm for the `slurm` tests
# (tests/slurm/cluster.sh starts and stops its daemons itself; nothing is configured in /etc).
LACO_TEST_PACKAGES=(slurmctld slurmd slurm-client munge iproute2)  # iproute2: ss, free ports

# laco_install_packages [PACKAGE...]: installs those not installed (default: LACO_PACKAGES).
# Package scripts may not start daemons (there is no init system to stop them): a
# policy-rc.d that refuses is in place during the install when the system has none.
laco_install_packages() {
  local missing=() wanted=("$@")
  [ ${#wanted[@]} -eq 0 ] && wanted=("${LACO_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && own_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
  [ "$own_policy" -eq 1 ] && $sudo rm -f "$policy"
  return "$rc"
}

laco_build() {
  cmake -S "$LACO_ROOT" -B "$LACO_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$LACO_BUILD" --parallel "$(nproc)" "$@"
}

# Root-safe, oversubscribable Open MPI; one BLAS thread per rank unless the user says so.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
