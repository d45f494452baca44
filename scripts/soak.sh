#!/usr/bin/env bash
# `make soak`: the crash test of tests/e2e/test_worker_kills.py with many more kill points (100 unless
# LEADSYNC_SOAK_KILLS says otherwise; LEADSYNC_KILL_SEED picks another sequence), on the same private
# redis-server and PostgreSQL cluster as `make test` (scripts/services.sh). It takes several minutes.
# Usage: scripts/soak.sh [pytest args...]   (the venv must exist: `make soak` builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export LEADSYNC_SKIP_BROWSER=${LEADSYNC_SKIP_BROWSER:-1}

. scripts/services.sh

export LEADSYNC_SOAK_KILLS=${LEADSYNC_SOAK_KILLS:-100}
say "soak: a real Celery worker SIGKILLed at $LEADSYNC_SOAK_KILLS seeded points (PostgreSQL, Redis)"
DATABASE_URL="$LEADSYNC_TEST_POSTGRES_URL" "$PY" -m pytest -m postgres tests/e2e/test_worker_kills.py "$@"
