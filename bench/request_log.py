"""Bench-only middleware: one JSON line per request the server answers, appended to $BENCH_REQUEST_LOG.

The sandbox does not record LinkedIn API calls (its CRM does, in CrmCall), so the benchmark counts them at
the server, outside the product: bench/server_settings.py puts this first in MIDDLEWARE for the bench's
runserver only. For leadFormResponses it also records how many leads the page held, so that the minimum
number of finder calls (ceil(leads / page size) per owner and lead type) comes from what was served.
"""

import json
import os
import threading
import time

import orjson

_lock = threading.Lock()


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.path = os.environ["BENCH_REQUEST_LOG"]

    def __call__(self, request):
        started = time.time()
        response = self.get_response(request)
        elapsed = time.time() - started
        elements = None
        if request.path.endswith("/rest/leadFormResponses") and response.status_code == 200:
            # orjson: the standard library's reading of every 130 KB page was ~7 % of the server's CPU
            elements = len(orjson.loads(response.content)["elements"])
        line = json.dumps({"method": request.method, "path": request.path,
                           "query": request.META.get("QUERY_STRING", ""),
                           "status": response.status_code, "t": started, "s": round(elapsed, 5), "elements": elements})
        with _lock, open(self.path, "a") as log:
            log.write(line + "\n")
        return response
