"""Test settings: the product's settings with the sandbox on and fast password hashing.

The database comes from DATABASE_URL (SQLite by default; the Postgres run of `make test` points
it at the private PostgreSQL server it started)."""

import os

# Hermetic: a developer's .env never leaks in, and every external URL points at a closed loopback
# port unless a test points it at the sandbox (tests/conftest.py also refuses any other address).
os.environ.setdefault("LEADSYNC_ENV_FILE", os.path.join(os.path.dirname(__file__), "no-such.env"))
os.environ.setdefault("LINKEDIN_API_URL", "http://127.0.0.1:9/linkedin")
os.environ.setdefault("LINKEDIN_OAUTH_URL", "http://127.0.0.1:9/linkedin/oauth/v2")
os.environ.setdefault("LEADGEN_CRM_API_URL", "http://127.0.0.1:9/crm/pubapi/v1.2/")
os.environ.setdefault("LEADSYNC_SANDBOX", "1")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "sqlite:///test-db.sqlite3")
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("LEADSYNC_TEST_REDIS_URL", "memory://"))
# The limits stay per process (as before the fleet limiter): tests that want them in Redis say so.
os.environ.setdefault("LEADSYNC_RATE_LIMIT_REDIS_URL", "off")
os.environ.setdefault("LINKEDIN_CLIENT_ID", "test-client-id")
os.environ.setdefault("LINKEDIN_CLIENT_SECRET", "test-client-secret")

from leadsync_project.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_RESULT_BACKEND = os.environ.get("LEADSYNC_TEST_REDIS_URL", "cache+memory://")
# Retries still happen (the code paths are exercised) but never wait.
LEADSYNC_RETRY_BASE_DELAY = 0
LEADSYNC_RETRY_MAX_DELAY = 0

# A file, not SQLite's in-memory shared cache: that cache fails a second writer at once instead of
# waiting (busy timeout), which is not how the product's SQLite databases behave.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405
