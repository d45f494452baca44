"""gunicorn's configuration for the web process:
`gunicorn -c leadsync_project/gunicorn.conf.py` (the Procfile and deploy/leadsync-web.service use it).

Every setting comes from the environment (and the `.env` file the Django settings read), with
defaults for one machine behind a TLS-terminating proxy (docs/operations.md):

| variable | default | meaning |
| --- | --- | --- |
| `GUNICORN_BIND` | `127.0.0.1:8000` | where to listen (the proxy forwards here) |
| `GUNICORN_WORKERS` | 2 x CPUs + 1, at most 8 | worker processes |
| `GUNICORN_THREADS` | `1` | threads per worker (more than 1 = gthread workers) |
| `GUNICORN_TIMEOUT` | `60` | seconds a request may take before its worker is restarted |
| `GUNICORN_MAX_REQUESTS` | `2000` | a worker is replaced after this many requests (plus jitter) |
| `FORWARDED_ALLOW_IPS` | `127.0.0.1` | proxies whose X-Forwarded-* headers are trusted |

The access log goes to stdout and the error log to stderr, in LEADSYNC_LOG_FORMAT (text or json,
see leadsync_project/logs.py): method, path without its query string, status, size, duration and
the response's X-Request-ID, never the client's address or a query string.
"""

import multiprocessing
import os
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
_env_file = Path(os.environ.get("LEADSYNC_ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    environ.Env.read_env(_env_file, overwrite=False)
env = environ.Env()

from leadsync_project.logs import ACCESS_LOG_FORMAT, gunicorn_logging_config  # noqa: E402

wsgi_app = "leadsync_project.wsgi:application"
chdir = str(BASE_DIR)
bind = env.list("GUNICORN_BIND", default=["127.0.0.1:8000"])
workers = env.int("GUNICORN_WORKERS", default=min(2 * multiprocessing.cpu_count() + 1, 8))
threads = env.int("GUNICORN_THREADS", default=1)
timeout = env.int("GUNICORN_TIMEOUT", default=60)
graceful_timeout = 30
keepalive = 5
max_requests = env.int("GUNICORN_MAX_REQUESTS", default=2000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = env.str("FORWARDED_ALLOW_IPS", default="127.0.0.1")
# No runtime control socket (one per user's home, shared by every gunicorn of that user): systemd
# restarts and reloads the service (deploy/leadsync-web.service).
control_socket_disable = True
# Request lines and headers a proxy would never send are refused before Django sees them.
limit_request_line = 8190
limit_request_fields = 100

access_log_format = ACCESS_LOG_FORMAT
logconfig_dict = gunicorn_logging_config(fmt=env.str("LEADSYNC_LOG_FORMAT", default="text").strip().lower(),
                                         level=env.str("LOG_LEVEL", default="INFO"))
