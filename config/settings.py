"""Loadbay settings, read from the environment (and a local .env file, if present).

Every setting is documented in .env.example. Production is any process with DEBUG off:
it refuses to start without SECRET_KEY and LOADBAY_ENCRYPTION_KEY.
"""

from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from connectors.endpoints import InvalidEndpoint, endpoint_origin

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local state: SQLite database, on-disk broker, logs of `make run`; never committed.
VAR_DIR = Path(env.str("LOADBAY_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)

_DEV_ONLY_SECRET_KEY = "insecure-development-only-secret-key"  # noqa: S105 (refused in production)
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_ONLY_SECRET_KEY if DEBUG else "")
if SECRET_KEY in {"", "change-me"}:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")

# Fernet keys (urlsafe base64, 32 bytes) for secrets at rest, newest first; older keys
# stay listed while secrets are re-encrypted (python manage.py rotate_secrets).
_KEYGEN = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
LOADBAY_ENCRYPTION_KEYS: list[str] = env.list("LOADBAY_ENCRYPTION_KEY", default=[])
if not LOADBAY_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "LOADBAY_ENCRYPTION_KEY must be set when DEBUG is off: it encrypts every Access Key "
        "Secret at rest. Generate one with: " + _KEYGEN
    )
for _key in LOADBAY_ENCRYPTION_KEYS:
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            "LOADBAY_ENCRYPTION_KEY holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes). Generate one with: " + _KEYGEN
        ) from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "formtools",
    "django_celery_beat",
    "simple_history",
    "entities",
    "connectors",
    "wizard",
    "ingest",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Changes saved while serving a request are recorded in the history with its user.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'loadbay.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout waits out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/connectors/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Sign-in throttling (django-axes), one policy for /accounts/login/ and /admin/login/: after
# LOGIN_FAILURE_LIMIT failures for one username from one client address (each within
# LOGIN_FAILURE_WINDOW_SECONDS of the one before), that username is refused from that address
# until LOGIN_FAILURE_WINDOW_SECONDS after the last: a stranger elsewhere cannot lock a user
# out. Failures are rows in the database (the database handler, not the cache one), so every
# web process, on PostgreSQL or SQLite, with or without Redis, counts the same ones.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_FAILURE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT and LOGIN_FAILURE_WINDOW_SECONDS must be 1 or more."
    )
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)
AXES_RESET_ON_SUCCESS = True
# Attempts while locked out are refused without being counted, so the lock lifts when the
# page says, even for someone who tried again meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "config.signin.lockout_page"
AXES_CLIENT_IP_CALLABLE = "config.signin.client_address"
# Proxies in front of the app that append the client's address to X-Forwarded-For (a load
# balancer, nginx: count each). 0: the client address is the connection's (REMOTE_ADDR) and
# X-Forwarded-For, which any client can write, is ignored.
LOADBAY_TRUSTED_PROXY_COUNT = env.int("LOADBAY_TRUSTED_PROXY_COUNT", default=0)
if LOADBAY_TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("LOADBAY_TRUSTED_PROXY_COUNT must be 0 or more.")

# The wizard keeps its step data in the database-backed session, never in a cookie.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# HTTPS. Production (DEBUG off) redirects http to https and sends HSTS; `make run` (DEBUG on)
# serves plain http. Behind a proxy that terminates TLS, name the header it sets for https
# requests (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto), or every request is redirected again.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # W021 only reminds that preloading is possible; opting in commits the whole registrable
    # domain to https in browsers, which is the deployer's call, so it stays off by default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]


def _proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """X-Forwarded-Proto (or HTTP_X_FORWARDED_PROTO) -> ("HTTP_X_FORWARDED_PROTO", "https")."""
    if not name.strip():
        return None
    key = name.strip().upper().replace("-", "_")
    return (key if key.startswith("HTTP_") else f"HTTP_{key}", "https")


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(env.str("SECURE_PROXY_SSL_HEADER", default=""))

# Content-Security-Policy (django-csp): only our own scripts, styles, images and connections;
# no inline script or style, no framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

REDIS_URL = env.str("REDIS_URL", default="")
# Caches: Redis when there is one, else this process's memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery. Without REDIS_URL the broker is a folder on disk, so `make run` needs no server.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {"visibility_timeout": 3600}
    if REDIS_URL
    else {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "control_folder": str(VAR_DIR / "broker-control"),
    }
)
if not REDIS_URL:
    for _folder in ("broker", "broker-control"):
        (VAR_DIR / _folder).mkdir(exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)


def _allowed_origin(url: str, setting: str = "S3_ALLOWED_ENDPOINTS") -> str:
    try:
        return endpoint_origin(url.strip())
    except InvalidEndpoint as exc:
        raise ImproperlyConfigured(f"{setting}: {url.strip()!r}: {exc}") from None


# The local demo (make run): an S3-compatible endpoint on loopback (moto), allowed only here.
LOADBAY_DEMO = env.bool("LOADBAY_DEMO", default=False)
LOADBAY_DEMO_S3_URL = env.str("LOADBAY_DEMO_S3_URL", default="http://127.0.0.1:9100")

# S3-compatible endpoints a connector may use (scheme://host[:port]), parsed as strictly as the
# S3 Endpoint URL field and kept normalised (connectors/endpoints.py). Empty: AWS only.
S3_ALLOWED_ENDPOINTS: list[str] = [
    _allowed_origin(u)
    for u in [
        *env.list("S3_ALLOWED_ENDPOINTS", default=[]),
        *([LOADBAY_DEMO_S3_URL] if LOADBAY_DEMO else []),
    ]
]
# The AWS principal Loadbay runs as, which customers' roles trust; shown in the trust policy.
# Unset (''): the wizard and Test connection say that the administrator must set it. Older
# .env.example files carried a placeholder that names no one; it counts as unset.
LOADBAY_AWS_PRINCIPAL_ARN = env.str("LOADBAY_AWS_PRINCIPAL_ARN", default="").strip()
if LOADBAY_AWS_PRINCIPAL_ARN == "arn:aws:iam::000000000000:root":
    LOADBAY_AWS_PRINCIPAL_ARN = ""
if LOADBAY_DEMO and not LOADBAY_AWS_PRINCIPAL_ARN:
    # The local demo's STS (moto) answers for its default account, whatever the role trusts.
    LOADBAY_AWS_PRINCIPAL_ARN = "arn:aws:iam::123456789012:user/loadbay-demo"
# Where STS is reached for IAM-role connectors (blank: AWS). Tests point it at moto.
LOADBAY_STS_ENDPOINT_URL = env.str(
    "LOADBAY_STS_ENDPOINT_URL", default=LOADBAY_DEMO_S3_URL if LOADBAY_DEMO else ""
)
AWS_DEFAULT_REGION = env.str("AWS_DEFAULT_REGION", default="us-east-1")

# Operators: /healthz answers without sign-in (up or down per component; details for staff),
# also over plain http so a load balancer's probe is not redirected. /metrics (Prometheus)
# needs this token as "Authorization: Bearer <token>"; unset, it answers 404.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
LOADBAY_METRICS_TOKEN = env.str("LOADBAY_METRICS_TOKEN", default="")
if LOADBAY_METRICS_TOKEN and len(LOADBAY_METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(
        "LOADBAY_METRICS_TOKEN must be at least 16 characters (or unset, which turns /metrics "
        'off). Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
    )

# Error reports (the DEBUG 500 page, admin e-mails) hide what sensitive_variables and
# sensitive_post_parameters mark even when DEBUG is on: see config/error_reports.py.
DEFAULT_EXCEPTION_REPORTER = "config.error_reports.SecretsReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.SecretsFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # botocore logs request parameters at DEBUG; keep it quiet whatever LOG_LEVEL says.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process it starts in.
        "axes": {"level": "WARNING"},
    },
}

# Ingest.
# Seconds to wait for S3 to answer before the request is retried.
S3_READ_TIMEOUT = env.int("S3_READ_TIMEOUT", default=60)
# Runs reuse an S3 client (and its open connections) for this many seconds; keep it well
# under the hour that credentials from an assumed IAM role last.
S3_CLIENT_MAX_AGE = env.int("S3_CLIENT_MAX_AGE", default=600)
# Connections a client keeps open to S3: the threads of a run share them.
S3_MAX_POOL_CONNECTIONS = env.int("S3_MAX_POOL_CONNECTIONS", default=50)
# Objects larger than this are moved with a multipart copy (CopyObject's limit is 5 GiB).
S3_MULTIPART_COPY_THRESHOLD = env.int("S3_MULTIPART_COPY_THRESHOLD", default=5 * 1024**3)
S3_MULTIPART_COPY_PART_SIZE = env.int("S3_MULTIPART_COPY_PART_SIZE", default=512 * 1024**2)
# "auto": a probe finds which request conditions the endpoint honours (ingest/conditions.py);
# a small file whose bytes a run has read is moved by a PUT that the endpoint refuses if the
# name is taken (If-None-Match: *) where that is honoured (AWS S3 does), and copies and deletes
# are checked by Loadbay where their ETag conditions are not. "off": probe nothing, rely on no
# condition: always list the destination, copy, and check.
S3_CONDITIONAL_WRITES = env.str("S3_CONDITIONAL_WRITES", default="auto")
if S3_CONDITIONAL_WRITES not in {"auto", "off"}:
    raise ImproperlyConfigured(
        f"S3_CONDITIONAL_WRITES must be auto or off, not {S3_CONDITIONAL_WRITES!r}."
    )
# A gzip file may decompress to at most INGEST_DECOMPRESSION_RATIO times its compressed size,
# and at least INGEST_DECOMPRESSION_FLOOR_BYTES, never more than INGEST_MAX_DECOMPRESSED_BYTES
# (a gzip bomb of blank lines is about 1,000 times its size; data rarely over 20). Ratio 0:
# only the absolute limit.
INGEST_MAX_DECOMPRESSED_BYTES = env.int("INGEST_MAX_DECOMPRESSED_BYTES", default=20 * 1024**3)
INGEST_DECOMPRESSION_RATIO = env.int("INGEST_DECOMPRESSION_RATIO", default=100)
INGEST_DECOMPRESSION_FLOOR_BYTES = env.int("INGEST_DECOMPRESSION_FLOOR_BYTES", default=64 * 1024**2)
# Small files are processed together, up to this many (and bytes) per task: read at once, then
# ingested in one transaction. Each batch lists its destination once (BENCHMARKS.md).
INGEST_BATCH_FILES = env.int("INGEST_BATCH_FILES", default=50)
INGEST_BATCH_BYTES = env.int("INGEST_BATCH_BYTES", default=16 * 1024**2)
# A batch's files are copied to their Successful/Failed directories this many at a time.
INGEST_S3_THREADS = env.int("INGEST_S3_THREADS", default=8)
# A listing run renews its connector's lock on every page of keys; if the run dies, the lock
# lapses after this many seconds and the next run takes over.
INGEST_LOCK_SECONDS = env.int("INGEST_LOCK_SECONDS", default=120)
# The watchdog (a beat task every INGEST_WATCHDOG_SECONDS) finishes what a dead process left:
# a run with no sign of life (listing, a file claimed, ingested or moved) for
# INGEST_STALE_RUN_SECONDS has the claims nobody holds released (its files are listed again)
# and is finished, saying so. Long enough for a queue backlog; a file being ingested or moved
# is never touched, however long it takes.
INGEST_STALE_RUN_SECONDS = env.int("INGEST_STALE_RUN_SECONDS", default=2 * 3600)
INGEST_WATCHDOG_SECONDS = env.int("INGEST_WATCHDOG_SECONDS", default=300)
CELERY_BEAT_SCHEDULE = {
    "ingest-watchdog": {"task": "ingest.tasks.watchdog", "schedule": INGEST_WATCHDOG_SECONDS},
}
# The wizard's Field Mapping step reads a sample of the files: at most this many bytes from the
# start of one (a ranged GET), or of an uploaded file, and of its text once gunzipped.
WIZARD_SAMPLE_BYTES = env.int("WIZARD_SAMPLE_BYTES", default=1024**2)
if WIZARD_SAMPLE_BYTES < 1024:
    raise ImproperlyConfigured("WIZARD_SAMPLE_BYTES must be at least 1024.")

# Alerts (alerts/): e-mail through Django's e-mail framework, configured by EMAIL_URL
# (django-environ: smtp+tls://user:password@host:587, consolemail://, ...). The default, the
# console backend, prints alert e-mails in the log (`make run`: var/log/worker.log).
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
LOADBAY_ALERT_FROM_EMAIL = env.str("LOADBAY_ALERT_FROM_EMAIL", default="loadbay@localhost")
# Links in alerts are absolute: where users open this site.
LOADBAY_BASE_URL = env.str("LOADBAY_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not LOADBAY_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"LOADBAY_BASE_URL must start with http:// or https://, not {LOADBAY_BASE_URL!r}."
    )
# Webhook URLs must resolve to public addresses only (no loopback, link-local, private,
# multicast or reserved ones), checked on save and again on each delivery; origins listed
# here (scheme://host:port, parsed like S3_ALLOWED_ENDPOINTS) may resolve anywhere.
LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS: list[str] = [
    _allowed_origin(u, "LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS")
    for u in env.list("LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS", default=[])
]
# Seconds a webhook delivery may take to connect, and to answer.
LOADBAY_WEBHOOK_CONNECT_TIMEOUT = env.float("LOADBAY_WEBHOOK_CONNECT_TIMEOUT", default=3.0)
LOADBAY_WEBHOOK_READ_TIMEOUT = env.float("LOADBAY_WEBHOOK_READ_TIMEOUT", default=10.0)
# How often beat looks for files not moved for longer than a connector's alert threshold.
ALERTS_NOT_MOVED_CHECK_SECONDS = env.int("ALERTS_NOT_MOVED_CHECK_SECONDS", default=600)
CELERY_BEAT_SCHEDULE["alerts-files-not-moved"] = {
    "task": "alerts.tasks.check_files_not_moved",
    "schedule": ALERTS_NOT_MOVED_CHECK_SECONDS,
}
# Test-only fault injection (tests/reliability, ingest.faults): at this point the process
# kills itself, or raises an exception nothing expects (action "raise"), in every file or in
# those whose key contains INGEST_FAULT_KEY.
INGEST_FAULT_POINT = env.str("INGEST_FAULT_POINT", default="")
INGEST_FAULT_ACTION = env.str("INGEST_FAULT_ACTION", default="kill")
if INGEST_FAULT_ACTION not in {"kill", "raise"}:
    raise ImproperlyConfigured(
        f"INGEST_FAULT_ACTION must be kill or raise, not {INGEST_FAULT_ACTION!r}."
    )
INGEST_FAULT_KEY = env.str("INGEST_FAULT_KEY", default="")
INGEST_FAULT_MARKER = env.str("INGEST_FAULT_MARKER", default="")
