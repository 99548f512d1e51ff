#!/usr/bin/env bash
# `make run`: migrate, make sure there is an administrator, then start the web server, a Celery
# worker and beat (and, with LOADBAY_DEMO=true, a local demo S3 endpoint). Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PY=$BIN/python
mkdir -p var/log

trap 'trap - EXIT; kill 0 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

$PY manage.py migrate --noinput
$PY manage.py ensure_admin

demo=$($PY -c "from django.conf import settings; import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup(); print('1' if settings.LOADBAY_DEMO else '')")
if [ -n "$demo" ]; then
  url=$($PY -c "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup(); from django.conf import settings; print(settings.LOADBAY_DEMO_S3_URL)")
  port=${url##*:}
  $BIN/moto_server -H 127.0.0.1 -p "$port" > var/log/demo-s3.log 2>&1 &
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

$BIN/celery -A config worker -l info --concurrency 2 > var/log/worker.log 2>&1 &
$BIN/celery -A config beat -l info -s var/celerybeat-schedule > var/log/beat.log 2>&1 &
echo "Worker and beat log to var/log/. Open http://127.0.0.1:8000/ (Ctrl-C stops everything)."
$PY manage.py runserver 127.0.0.1:8000 --noreload
