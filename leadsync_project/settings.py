"""LeadSync settings, read from the environment (and a `.env` file beside manage.py when present).

Production is `DEBUG=False`: it refuses to start without `SECRET_KEY` and `FIELD_ENCRYPTION_KEY`.
Development (`DEBUG` unset or true) has safe local defaults. Every variable is documented in
`.env.example` and the README.
"""

from pathlib import Path

import environ
from kombu import Queue
from django.core.exceptions import ImproperlyConfigured

from leadsync_project.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over the file. LEADSYNC_ENV_FILE points elsewhere (tests use it
# to make sure a developer's .env does not leak into a check of the defaults).
ENV_FILE = Path(env.str("LEADSYNC_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

DEV_SECRET_KEY = "django-insecure-leadsync-development-only-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="" if not DEBUG else DEV_SECRET_KEY)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production (DEBUG=False) needs a long random SECRET_KEY in the "
        "environment or in .env, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )

# Fernet keys (urlsafe base64, 32 bytes), comma-separated: the first encrypts, all decrypt, so a
# key can be rotated by prepending the new one. In development a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set. Production (DEBUG=False) encrypts LinkedIn tokens and CRM "
        "secrets with it: set it to a Fernet key, e.g. the output of "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`, "
        "and keep it safe: without it the stored tokens cannot be read."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "leadsync_project.admin.LeadSyncAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "connectors",
    "mappings",
    "leads",
]

# The offline LinkedIn + CRM simulator. Never in production: its apps (and their tables) exist only
# when LEADSYNC_SANDBOX is on.
LEADSYNC_SANDBOX = env.bool("LEADSYNC_SANDBOX", default=False)
if LEADSYNC_SANDBOX:
    INSTALLED_APPS += ["sandbox.linkedin", "sandbox.crm"]

MIDDLEWARE = [
    # First, so that every answer (redirects and errors included) carries X-Request-ID.
    "leadsync_project.logs.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leadsync_project.urls"

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
                "connectors.context_processors.leadsync_alerts",
                "mappings.context_processors.mapping_review_alert",
                "leads.context_processors.attention",
            ],
        },
    },
]

WSGI_APPLICATION = "leadsync_project.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///db.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    name = DATABASES["default"]["NAME"]
    if name and name != ":memory:" and not Path(name).is_absolute():
        DATABASES["default"]["NAME"] = str(BASE_DIR / name)
    # WAL and IMMEDIATE transactions let the web process, a worker and beat share one file
    # without "database is locked" errors. synchronous=NORMAL, SQLite's advice for WAL: a commit
    # no longer waits for the disk (an fsync per page of leads was a tenth of a large sync's time);
    # the file cannot be corrupted, and a process killed at any point loses nothing committed. Only
    # a crash of the machine itself can take back the last commits: their leads are pulled again
    # (the watermark goes back with them) and a create the CRM already did is answered 301 by the
    # CRM (one lead per e-mail) and adopted. Production runs on PostgreSQL.
    # cached_statements: the sqlite3 module keeps each connection's last 128 prepared statements by
    # default, and the sync's bulk statements differ by row count, so a long backfill kept ~128 large
    # ones prepared and its peak RSS crept with N (make bench: 122 MB at 10,000 leads, 137 MB at
    # 100,000); 16 holds it flat (114 MB, 121 MB) at no measurable cost in CPU (bench/README.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "cached_statements": 16,
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production defaults; each can be overridden from the environment) -------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check is probed over plain HTTP by load balancers and orchestrators.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- E-mail (re-authorisation alerts to admins) ------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="leadsync@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("LeadSync admin", a) for a in env.list("LEADSYNC_ADMIN_EMAILS", default=[])]

# --- Celery (cookiecutter-django's block) ------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "leadsync_project.beat:GuardedDatabaseScheduler"  # django-celery-beat's, run once
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A task is acknowledged once it finished, and a worker killed under it gives it back, so it is
# done again (harmlessly: syncs are idempotent). Redis redelivers an unacknowledged task after
# the visibility timeout, which must outlast the longest task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 15 * 60}

# --- Limits shared by the fleet (connectors/ratelimit.py) ----------------------------------------
# The CRM's calls per second and per day per account, and LinkedIn's 429 backoff and daily budgets,
# are held in this Redis by every worker on every machine. Default: the broker, when it is Redis;
# "off" (or no Redis broker) keeps them per process, as one worker alone needs.
_BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://"))
LEADSYNC_RATE_LIMIT_REDIS_URL = env.str(
    "LEADSYNC_RATE_LIMIT_REDIS_URL", default=CELERY_BROKER_URL if _BROKER_IS_REDIS else "").strip()
if LEADSYNC_RATE_LIMIT_REDIS_URL.lower() in ("off", "none", "0", "false"):
    LEADSYNC_RATE_LIMIT_REDIS_URL = ""
if LEADSYNC_RATE_LIMIT_REDIS_URL and not LEADSYNC_RATE_LIMIT_REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        "LEADSYNC_RATE_LIMIT_REDIS_URL must be a redis://, rediss:// or unix:// URL, or off.")
# The longest a call waits for its slot; a slot further away is a rate limit the retry policy handles.
LEADSYNC_RATE_LIMIT_MAX_WAIT = env.float("LEADSYNC_RATE_LIMIT_MAX_WAIT", default=30.0)
# Calls a day per CRM account (the vendor's 50,000), counted fleet-wide in Redis; 0: not counted.
LEADSYNC_CRM_DAILY_LIMIT = env.int("LEADSYNC_CRM_DAILY_LIMIT", default=50_000)
# LinkedIn's daily limits are per app and per member and not published: set them from the app's
# page in the developer portal to stop before LinkedIn answers 429 (0: not counted).
LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS = env.int("LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS", default=0)
LEADSYNC_LINKEDIN_APP_DAILY_CALLS = env.int("LEADSYNC_LINKEDIN_APP_DAILY_CALLS", default=0)
for _name in ("LEADSYNC_RATE_LIMIT_MAX_WAIT", "LEADSYNC_CRM_DAILY_LIMIT", "LEADSYNC_LINKEDIN_MEMBER_DAILY_CALLS",
              "LEADSYNC_LINKEDIN_APP_DAILY_CALLS"):
    if vars()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must not be negative.")

# Queues by kind of work, so that a lead notification is handled within seconds while a 90-day
# backfill holds every `sync` worker. A worker started without -Q consumes every queue below (one
# machine, one worker: nothing to configure); a fleet gives each kind its own workers with
# `-Q webhooks`, `-Q sync`, ... (Procfile, deploy/, docs/operations.md "Queues and workers").
# The default queue keeps Celery's name, `celery`: a task queued by an older release, or sent by
# name from elsewhere (Flower, `celery call`), still finds a worker.
LEADSYNC_QUEUES = {
    "webhooks": "LinkedIn's lead notifications: one lead each, seconds of work",
    "sync": "scheduled pulls, syncs now and backfills, and the parts a large sync is split into",
    "push": "failed leads pushed again (the admin's and CLI's retries)",
    "maintenance": "token heartbeat, discovery, daily reconcile and retention purge",
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE)] + [Queue(name) for name in LEADSYNC_QUEUES]
CELERY_TASK_CREATE_MISSING_QUEUES = False  # a route to a queue nobody declared is a mistake, not a new queue
CELERY_TASK_ROUTES = {
    "leads.process_lead_notification": {"queue": "webhooks"},
    "leads.sweep_notifications": {"queue": "webhooks"},
    "leads.sync_integration": {"queue": "sync"},
    "leads.sync_integrations": {"queue": "sync"},
    "leads.sync_group": {"queue": "sync"},
    "leads.retry_failed": {"queue": "push"},
    "connectors.heartbeat": {"queue": "maintenance"},
    "connectors.discover": {"queue": "maintenance"},
    "leads.reconcile_integrations": {"queue": "maintenance"},
    "leads.purge_expired_personal_data": {"queue": "maintenance"},
    "celery.backend_cleanup": {"queue": "maintenance"},
    # leadsync.ping (the health check's round trip) stays on the default queue.
}
# Per task, a limit that fits its work (the global one above fits the longest, a 90-day backfill):
# a notification is one lead, so one that hangs is cut after a quarter of an hour, not an hour
# (room for one API call's whole retry policy: LEADSYNC_RETRY_ATTEMPTS x the read timeout and
# backoff). A notification cut short is marked failed; its lead is still pulled by the next sync.
CELERY_TASK_ANNOTATIONS = {
    "leads.process_lead_notification": {"time_limit": 15 * 60, "soft_time_limit": 14 * 60},
    "leads.sweep_notifications": {"time_limit": 30 * 60, "soft_time_limit": 29 * 60},
}

# Exactly one beat sends the schedule: a beat takes a lease in Redis (LEADSYNC_BEAT_LOCK_URL, the
# broker's Redis by default) and renews it at every tick; a second beat waits, sending nothing, and
# takes over when the lease runs out (leadsync_project/beat.py).
LEADSYNC_BEAT_LOCK_URL = env.str("LEADSYNC_BEAT_LOCK_URL", default="")
LEADSYNC_BEAT_LOCK_TTL_SECONDS = env.int("LEADSYNC_BEAT_LOCK_TTL_SECONDS", default=60)

# --- LinkedIn ------------------------------------------------------------------------------------
LINKEDIN_CLIENT_ID = env.str("LINKEDIN_CLIENT_ID", default="")
LINKEDIN_CLIENT_SECRET = env.str("LINKEDIN_CLIENT_SECRET", default="")
LINKEDIN_API_URL = env.str("LINKEDIN_API_URL", default="https://api.linkedin.com").rstrip("/")
LINKEDIN_OAUTH_URL = env.str("LINKEDIN_OAUTH_URL", default="https://www.linkedin.com/oauth/v2").rstrip("/")
LINKEDIN_VERSION = env.str("LINKEDIN_VERSION", default="202601")
LINKEDIN_REDIRECT_URI = env.str("LINKEDIN_REDIRECT_URI", default="")
# Legacy event leads need r_events_leadgen_automation as well; request it only where the app has it.
LINKEDIN_REQUEST_EVENT_SCOPE = env.bool("LINKEDIN_REQUEST_EVENT_SCOPE", default=False)
LINKEDIN_PAGE_SIZE = env.int("LINKEDIN_PAGE_SIZE", default=100)

# --- CRM -----------------------------------------------------------------------------------------
LEADGEN_CRM_API_URL = env.str("LEADGEN_CRM_API_URL", default="https://api.sharpspring.com/pubapi/v1.2/")

# --- Sync behaviour ------------------------------------------------------------------------------
LEADSYNC_DEFAULT_SYNC_MINUTES = env.int("LEADSYNC_DEFAULT_SYNC_MINUTES", default=15)
LEADSYNC_PULL_OVERLAP_MINUTES = env.int("LEADSYNC_PULL_OVERLAP_MINUTES", default=60)
# A first pull (no watermark yet) reaches this far back.
LEADSYNC_INITIAL_DAYS = env.int("LEADSYNC_INITIAL_DAYS", default=90)
LEADSYNC_CRM_BATCH_SIZE = env.int("LEADSYNC_CRM_BATCH_SIZE", default=500)
# Lead pages a pull fetches ahead in a thread while it stores the one it has (0: one at a time).
LEADSYNC_PULL_PAGES_AHEAD = env.int("LEADSYNC_PULL_PAGES_AHEAD", default=2)
# A sync's lease on its integration, renewed at every page and CRM call: how long a killed worker
# can hold the integration back.
LEADSYNC_LOCK_TTL_SECONDS = env.int("LEADSYNC_LOCK_TTL_SECONDS", default=120)
# Retries of timeouts, 5xx and rate limits: attempts per call and the exponential backoff (seconds).
LEADSYNC_RETRY_ATTEMPTS = env.int("LEADSYNC_RETRY_ATTEMPTS", default=5)
LEADSYNC_RETRY_BASE_DELAY = env.float("LEADSYNC_RETRY_BASE_DELAY", default=1.0)
LEADSYNC_RETRY_MAX_DELAY = env.float("LEADSYNC_RETRY_MAX_DELAY", default=60.0)
# A lead whose push ended in an error that may pass (the CRM away, a lost answer, a rate limit) is
# pushed again by later scheduled syncs, this many times in a row at most, waiting twice as long
# each time (from the base to the cap, seconds); then it is failed and waits for staff.
LEADSYNC_LEAD_RETRIES = env.int("LEADSYNC_LEAD_RETRIES", default=8)
LEADSYNC_LEAD_RETRY_DELAY = env.int("LEADSYNC_LEAD_RETRY_DELAY", default=60)
LEADSYNC_LEAD_RETRY_MAX_DELAY = env.int("LEADSYNC_LEAD_RETRY_MAX_DELAY", default=3600)
# Seconds to wait for a LinkedIn or CRM connection, and then for each read of its answer: a call
# that stalls longer is a timeout, retried like any other.
LEADSYNC_HTTP_TIMEOUT = (env.float("LEADSYNC_HTTP_CONNECT_TIMEOUT", default=5.0),
                         env.float("LEADSYNC_HTTP_READ_TIMEOUT", default=60.0))
# Warn in the admin this many days before a token that cannot be renewed dies.
LEADSYNC_REAUTH_WARNING_DAYS = env.int("LEADSYNC_REAUTH_WARNING_DAYS", default=30)
# The site's public address, for links in e-mails (e.g. https://leadsync.example.com).
LEADSYNC_SITE_URL = env.str("LEADSYNC_SITE_URL", default="")
LEADSYNC_TOKEN_REFRESH_MARGIN_HOURS = env.int("LEADSYNC_TOKEN_REFRESH_MARGIN_HOURS", default=24 * 7)

# --- Lead notifications (webhooks) ---------------------------------------------------------------
# The public https URL of /linkedin/webhook/ that LinkedIn calls (e.g.
# https://leadsync.example.com/linkedin/webhook/). Empty: no subscriptions, the schedule polls only.
LEADSYNC_WEBHOOK_URL = env.str("LEADSYNC_WEBHOOK_URL", default="")
# A lead notification is a few hundred bytes; anything far larger is not one (and is not hashed).
LEADSYNC_WEBHOOK_MAX_BYTES = env.int("LEADSYNC_WEBHOOK_MAX_BYTES", default=64 * 1024)
# Purge the personal data of leads submitted more than this many days ago (counts and ids kept); none: keep.
LEADSYNC_RETENTION_DAYS = env.int("LEADSYNC_RETENTION_DAYS", default=None)
# The default of a new integration's reaction to a LinkedIn DELETED notification: True = delete the
# lead in the CRM too (deleteLeads), False = erase it in LeadSync only. Each integration keeps its
# own choice (Integration.on_linkedin_delete) once created.
LEADSYNC_DELETE_CRM_LEADS = env.bool("LEADSYNC_DELETE_CRM_LEADS", default=False)

# --- Metrics -------------------------------------------------------------------------------------
# /metrics answers a request with `Authorization: Bearer <this>` (Prometheus's scrape) or from a
# superuser's or a sync-run viewer's session; anyone else gets 403. Empty: sessions only.
LEADSYNC_METRICS_TOKEN = env.str("LEADSYNC_METRICS_TOKEN", default="")

# --- Logs ----------------------------------------------------------------------------------------
# One line per record on stderr, redacted (leadsync_project/logs.py), carrying the request id, the
# Celery task and the sync run. text (the default) in development; json in production, for the
# journal or a log shipper.
LEADSYNC_LOG_FORMAT = env.str("LEADSYNC_LOG_FORMAT", default="text").strip().lower()
LOGGING = logging_config(fmt=LEADSYNC_LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
