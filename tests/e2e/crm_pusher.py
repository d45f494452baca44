"""One "worker" of the fleet tests (tests/e2e/test_fleet_rate_limit.py), run as its own process:
it pushes leads into one CRM account through `CrmClient`, one createLeads call per lead, under the
Redis limiter (argument `redis`: a URL and a key prefix) or its process's own (`local`).

It prints `ready`, waits for a line on stdin so every worker starts at once, then prints one JSON
line: how many calls succeeded and how many the CRM refused as rate limited. No Django: the API
client and the limiter are plain Python, as in a Celery worker."""

import json
import sys

from connectors.crm.client import CrmClient
from connectors.exceptions import RateLimited
from connectors.http import RetryPolicy
from connectors.ratelimit import LocalLimiter, RedisLimiter


def main(api_url, account_id, secret_key, worker, calls, mode, redis_url="", prefix=""):
    limiter = RedisLimiter(redis_url, prefix=prefix, max_wait=60) if mode == "redis" else LocalLimiter()
    # One attempt: a refusal is counted, not hidden by a retry.
    client = CrmClient(api_url, account_id=account_id, secret_key=secret_key, limiter=limiter,
                       retry=RetryPolicy(max_attempts=1))
    print("ready", flush=True)
    sys.stdin.readline()
    created = refused = 0
    for n in range(int(calls)):
        email = f"fleet-{worker}-{n}@example.com"
        try:
            [result] = client.create_leads([{"emailAddress": email, "firstName": f"Worker {worker}"}])
        except RateLimited:
            refused += 1
            continue
        created += result.success
    print(json.dumps({"worker": worker, "created": created, "refused": refused}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
