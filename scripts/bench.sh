#!/usr/bin/env bash
# `make bench`: benchmarks against baselines in one run (see BENCHMARKS.md for the knobs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
if [ ! -x bench/.venv-awscli/bin/aws ]; then
  echo "Installing the AWS CLI (the baseline for workload 3) into bench/.venv-awscli..."
  python3.11 -m venv bench/.venv-awscli
  bench/.venv-awscli/bin/python -m pip install --quiet awscli
fi
.venv/bin/python -m pip install --quiet -r bench/requirements.txt
if [ -n "${BENCH_AB:-}" ]; then
  # shellcheck disable=SC2086 # OLD NEW ROUNDS, split on purpose
  exec .venv/bin/python -m bench.ab $BENCH_AB
fi
.venv/bin/python -m bench.run
