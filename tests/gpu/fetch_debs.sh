#!/usr/bin/env bash
# Downloads (does not install) the Debian 12 packages that laco needs to build besides
# LibTorch, CUDA and NCCL: Open MPI, HDF5, toml++, spdlog, fmt, nlohmann-json, PCRE2, ICU,
# GoogleTest, Open MPI's orted (a singleton MPI_Init forks it), and the runtime libraries
# they link against that a CUDA/PyTorch image often lacks. Run it on a connected Debian 12
# (bookworm, amd64) machine, carry the directory to the GPU machine, and give it to
# tests/gpu/run.sh, which unpacks it with `dpkg -x`:
#   tests/gpu/fetch_debs.sh [DIR]         # default DIR: ./laco-debs
#   LACO_DEBS=DIR tests/gpu/run.sh        # on the GPU machine
# About 35 MB (ICU is most of it). Extra packages: LACO_EXTRA_DEBS="pkg1 pkg2".
set -euo pipefail

dir="${1:-laco-debs}"
if ! grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  echo "$0: warning: this is not Debian 12 (bookworm); the package names below are bookworm's" >&2
fi
command -v apt-get >/dev/null || { echo "$0: apt-get not found" >&2; exit 2; }

packages=(
  # headers, CMake/pkg-config files and link-time .so symlinks
  libopenmpi-dev libhdf5-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libpcre2-dev libicu-dev libgtest-dev
  # shared libraries the above link against
  libopenmpi3 openmpi-common openmpi-bin libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libsz2 libaec0
  libtomlplusplus3 libspdlog1.10 libfmt9 libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libicu72
  # Open MPI's own dependencies
  libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7 libfabric1 libhwloc15 libibverbs1
  librdmacm1 libnl-3-200 libnl-route-3-200 libpmix2 libpsm-infinipath1 libpsm2-2 libucx0 libnuma1
  libmunge2 libatomic1
  # HDF5's libcurl (Ubuntu 24.04 renamed its own to libcurl4t64)
  libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1 libldap-2.5-0 libsasl2-2 libbrotli1 libssl3
)
# shellcheck disable=SC2206  # word splitting is the point
packages+=(${LACO_EXTRA_DEBS:-})

mkdir -p "$dir"
cd "$dir"
apt-get download "${packages[@]}"
echo "$(find . -maxdepth 1 -name "*.deb" | wc -l) packages, $(du -sh . | cut -f1) in $(pwd)"
