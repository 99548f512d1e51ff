#!/usr/bin/env bash
# `make test`: lint (ruff, mypy, import contracts), then every test tier against real
# PostgreSQL, Redis, moto and chromium.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh || exit 1

.venv/bin/ruff check . || { echo "ERROR: ruff found problems (make format fixes most)." >&2; exit 1; }
.venv/bin/ruff format --check . || { echo "ERROR: files need formatting (run make format)." >&2; exit 1; }
.venv/bin/mypy || { echo "ERROR: mypy found type errors (configured in pyproject.toml)." >&2; exit 1; }
.venv/bin/lint-imports --no-cache --no-logo || { echo "ERROR: an import contract is broken (pyproject.toml)." >&2; exit 1; }

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@${TEST_PG_HOST:-127.0.0.1}:${TEST_PG_PORT:-5432}/loadbay}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:${TEST_REDIS_PORT:-6379}/15}

run_pytest() {
  .venv/bin/python -m pytest "$@"
  local status=$?
  if [ $status -eq 5 ]; then
    echo "ERROR: pytest collected no tests; that is a failure, not a pass." >&2
    exit 1
  fi
  [ $status -eq 0 ] || exit $status
}

echo "== Every tier on PostgreSQL + Redis (the production stack) =="
run_pytest "$@"

if [ $# -eq 0 ]; then
  echo "== Unit, wizard and ingest tiers again on SQLite (the embedded default) =="
  (unset DATABASE_URL; run_pytest -q -m "not integration and not browser") || exit 1
fi
