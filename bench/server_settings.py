"""Settings of the bench's server: the project's own (or bench.split_settings, when the sandbox has
a database of its own), plus the request log (bench/request_log.py)."""

import os

if os.environ.get("BENCH_SANDBOX_DATABASE_URL"):
    from bench.split_settings import *  # noqa: F401,F403
else:
    from leadsync_project.settings import *  # noqa: F401,F403
from leadsync_project.settings import MIDDLEWARE

MIDDLEWARE = ["bench.request_log.RequestLogMiddleware", *MIDDLEWARE]
