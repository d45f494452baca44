"""Settings of the bench's server: the project's own, plus the request log (bench/request_log.py)."""

from leadsync_project.settings import *  # noqa: F401,F403
from leadsync_project.settings import MIDDLEWARE

MIDDLEWARE = ["bench.request_log.RequestLogMiddleware", *MIDDLEWARE]
