#!/usr/bin/env bash
# Builds retort and runs the whole test suite: unit tests, mpi tests (under mpirun -np 2) and gpu
# tests (which skip, saying why, on a machine without CUDA). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 600
