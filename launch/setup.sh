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

laco_install_packages() {
  local missing=()
  for p in "${LACO_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

laco_build() {
  cmake -S "$LACO_ROOT" -B "$LACO_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$LACO_BUILD" --parallel "$(nproc)" "$@"
}

# Root-safe, oversubscribable Open MPI; one BLAS thread per rank unless the user says so.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
