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
.venv/bin/python -m bench.run
