#!/usr/bin/env bash
# Make sure the PostgreSQL, Redis and Chromium that the tests talk to are there.
# Starts (or, as root on Debian, installs) what is missing; fails with a clear message
# when it cannot. Tests never skip for want of a service.
set -uo pipefail

PG_HOST=${TEST_PG_HOST:-127.0.0.1}
PG_PORT=${TEST_PG_PORT:-5432}
REDIS_PORT=${TEST_REDIS_PORT:-6379}

fail() { echo "ERROR: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  is_root && command -v apt-get >/dev/null || return 1
  echo "Installing $* from Debian's packages..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
pg_up() { .venv/bin/python - "$PG_HOST" "$PG_PORT" <<'PY' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(host=sys.argv[1], port=int(sys.argv[2]), user="postgres", dbname="postgres", connect_timeout=3).close()
PY
}
redis_up() { .venv/bin/python -c "import redis,sys; redis.Redis(host='127.0.0.1', port=$REDIS_PORT, socket_timeout=3).ping()" >/dev/null 2>&1; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it..."
  command -v pg_ctlcluster >/dev/null || apt_install postgresql || true
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || fail "PostgreSQL is needed on $PG_HOST:$PG_PORT (user postgres, trust auth) and could not be started. Start it, or set TEST_PG_HOST/TEST_PG_PORT."
fi

if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; starting it..."
  command -v redis-server >/dev/null || apt_install redis-server || true
  command -v redis-server >/dev/null && redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir /tmp --logfile /tmp/loadbay-test-redis.log >/dev/null
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  redis_up || fail "Redis is needed on 127.0.0.1:$REDIS_PORT and could not be started."
fi

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  apt_install chromium || true
  [ -x "$CHROMIUM" ] || fail "Chromium is needed at $CHROMIUM for the browser tests (Debian: apt-get install chromium)."
fi
echo "Services ready: PostgreSQL $PG_HOST:$PG_PORT, Redis 127.0.0.1:$REDIS_PORT, $CHROMIUM"
