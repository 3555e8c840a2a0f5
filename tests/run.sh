#!/usr/bin/env bash
# One command that sets up (missing Debian packages, the Slurm ones for the `slurm` tests
# included, Release build with Ninja) and runs the whole test suite with ctest. Tests that need ../shared assets skip when they are absent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/setup.sh"

laco_install_packages
laco_install_packages "${LACO_TEST_PACKAGES[@]}"  # Slurm + munge for the `slurm` tests
laco_build
cd "$LACO_BUILD"
ctest --output-on-failure --timeout 600 --parallel "$(nproc)" "$@"
