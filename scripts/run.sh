#!/usr/bin/env bash
# `make run`: migrate, make sure there is an administrator, then start the web server, a Celery
# worker and beat (and, with LOADBAY_DEMO=true, a local demo S3 endpoint). Ctrl-C or SIGTERM
# stops them all within STOP_GRACE_SECONDS (then they are killed), with one line of output.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PY=$BIN/python
ADDRESS=${RUN_ADDRESS:-127.0.0.1:8000}
GRACE=${STOP_GRACE_SECONDS:-8}

setting() {  # the value of a Django setting, as the app will see it
  $PY -c "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); \
django.setup(); from django.conf import settings; print(settings.$1)"
}

# Each service runs in a process group (and session) of its own: a Ctrl-C on the terminal
# reaches only this script, which then signals each service once. (Signalled by the terminal
# and again by us, the worker began a shutdown per signal and flooded its log.)
services=()
start() {  # start LOG COMMAND...: COMMAND in the background, its output in LOG (- : ours)
  local log=$1
  shift
  if [ "$log" = - ]; then
    setsid "$@" </dev/null &
  else
    setsid "$@" >"$log" 2>&1 </dev/null &
  fi
  services+=("$!")
}

stopped=""
stop() {
  [ -n "$stopped" ] && return
  stopped=1
  trap '' INT TERM
  exec 2>/dev/null  # bash would report each service it saw killed
  [ ${#services[@]} -eq 0 ] && return
  kill -TERM "${services[@]}" 2>/dev/null || true
  # Whatever has not stopped after the grace period (a task still running) is killed.
  setsid bash -c "sleep $GRACE; kill -KILL -- ${services[*]/#/-} 2>/dev/null" </dev/null &>/dev/null &
  local timer=$!
  wait "${services[@]}" 2>/dev/null || true
  kill -KILL -- "-$timer" 2>/dev/null || true
  for group in "${services[@]}"; do  # leftovers such as worker pool processes
    kill -KILL -- "-$group" 2>/dev/null || true
  done
  echo "Loadbay stopped (web server, worker, beat${demo:+, demo S3 endpoint})."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

VAR=$(setting VAR_DIR)
mkdir -p "$VAR/log"
$PY manage.py migrate --noinput
$PY manage.py ensure_admin

demo=$(setting LOADBAY_DEMO | sed 's/False//')
if [ -n "$demo" ]; then
  url=$(setting LOADBAY_DEMO_S3_URL)
  start "$VAR/log/demo-s3.log" $BIN/moto_server -H 127.0.0.1 -p "${url##*:}"
  $PY - "$url" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).close()
        break
    except OSError:
        time.sleep(0.2)
PY
  $PY manage.py demo_seed
fi

start "$VAR/log/worker.log" $BIN/celery -A config worker -l info --concurrency 2
start "$VAR/log/beat.log" $BIN/celery -A config beat -l info -s "$VAR/celerybeat-schedule"
start - $PY manage.py runserver "$ADDRESS" --noreload
echo "Worker and beat log to $VAR/log/. Open http://$ADDRESS/ (Ctrl-C stops everything)."

# Until a signal, or until a service stops by itself (then the others are stopped too).
status=0
wait -n "${services[@]}" || status=$?
echo "A service stopped by itself (exit status $status); see $VAR/log/." >&2
exit "$status"
